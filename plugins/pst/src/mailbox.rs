//! The messaging layer: walks a PST's folders from the root and turns each
//! message, its recipients and its attachments (including messages attached
//! to messages) into plain records handed to a [`Visitor`] one at a time.
//!
//! Nothing is collected: a record is built, handed over and dropped. Every
//! folder and message is visited at most once (visited sets) and folder and
//! embedding depths are bounded, so a damaged or hostile hierarchy cannot
//! loop. Damage is contained at the smallest unit that holds it: an
//! unreadable attachment or message is reported and skipped; an unreadable
//! folder is recorded as [`Walk::damage`], since the messages it held are
//! lost.

use crate::error::{ErrorKind, PstError, Result};
use crate::ltp::props::PropContext;
use crate::ltp::table::Table;
use crate::ltp::{Hnid, ptype};
use crate::ndb::Ndb;
use crate::ndb::block::{Subnode, Subnodes};
use crate::ndb::btree::NodeEntry;
use crate::planning::NidRange;
use crate::source::ReadAt;
use crate::text::{decode, strip_subject_marker};
use sha2::{Digest, Sha256};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

/// Node id of the root folder.
pub const ROOT_FOLDER: u32 = 0x122;
/// Subnode ids inside a message.
const RECIPIENT_TABLE: u32 = 0x692;
const ATTACHMENT_TABLE: u32 = 0x671;

/// Property ids used here.
mod tag {
    pub const MESSAGE_CLASS: u16 = 0x001A;
    pub const SUBJECT: u16 = 0x0037;
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    pub const CONVERSATION_TOPIC: u16 = 0x0070;
    pub const TRANSPORT_HEADERS: u16 = 0x007D;
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    pub const SENDER_NAME: u16 = 0x0C1A;
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    pub const DELIVERY_TIME: u16 = 0x0E06;
    pub const MESSAGE_FLAGS: u16 = 0x0E07;
    pub const MESSAGE_SIZE: u16 = 0x0E08;
    pub const CONTENT_COUNT: u16 = 0x3602;
    pub const ATTACH_SIZE: u16 = 0x0E20;
    pub const BODY: u16 = 0x1000;
    pub const HTML: u16 = 0x1013;
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    pub const DISPLAY_NAME: u16 = 0x3001;
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    pub const ATTACH_DATA: u16 = 0x3701;
    pub const ATTACH_FILENAME: u16 = 0x3704;
    pub const ATTACH_METHOD: u16 = 0x3705;
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    pub const INTERNET_CODEPAGE: u16 = 0x3FDE;
    pub const MESSAGE_CODEPAGE: u16 = 0x3FFD;
    pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
}

/// `PidTagMessageFlags` bit: the message has attachments.
const MSGFLAG_HASATTACH: i64 = 0x10;

/// `PidTagAttachMethod` value for a message attached to a message.
const ATTACH_EMBEDDED_MESSAGE: i64 = 5;

/// Bounds and choices for a walk.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest body, header block or other text value read; larger values
    /// are left out (null) with a warning.
    pub max_value_bytes: u64,
    /// Keep attachment bytes (otherwise only size and hash).
    pub attachment_content: bool,
    /// Largest attachment whose bytes are kept; larger ones are still hashed.
    pub max_attachment_bytes: u64,
    /// Read HTML bodies.
    pub body_html: bool,
    /// Code page for 8-bit strings of messages that do not name one.
    pub default_codepage: u32,
    /// Deepest folder nesting followed.
    pub max_folder_depth: usize,
    /// Deepest chain of messages attached to messages followed.
    pub max_embedding_depth: usize,
    /// The messages read: those whose node id is in this range (a split
    /// inside the file, see `planning`); the folders are walked whole.
    pub messages: NidRange,
    /// Recover messages the folder tree does not reach ([`Mailbox::recover`]).
    pub recover: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_value_bytes: 64 << 20,
            attachment_content: true,
            max_attachment_bytes: 64 << 20,
            body_html: true,
            default_codepage: 1252,
            max_folder_depth: 64,
            max_embedding_depth: 8,
            messages: NidRange::ALL,
            recover: false,
        }
    }
}

/// A recipient or sender address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// One message (or an embedded message) as a flat record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub folder_path: String,
    /// The node id for messages in folders; `parent/attachment` for
    /// embedded messages, so keys are unique within a file.
    pub key: String,
    pub parent_key: Option<String>,
    pub message_class: Option<String>,
    pub subject: Option<String>,
    pub sender_name: Option<String>,
    pub sender_email: Option<String>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    /// Microseconds since the Unix epoch, UTC.
    pub sent_at: Option<i64>,
    pub received_at: Option<i64>,
    pub internet_message_id: Option<String>,
    pub conversation_topic: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub transport_headers: Option<String>,
    pub size_bytes: Option<i64>,
    pub attachment_count: u32,
    /// Found by the recovery scan, not through its folder.
    pub recovered: bool,
}

impl Message {
    /// Rough in-memory size, for batching.
    pub fn approx_bytes(&self) -> usize {
        let s = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        let a = |v: &Vec<Address>| v.iter().map(|x| s(&x.name) + s(&x.email) + 16).sum::<usize>();
        self.folder_path.len()
            + self.key.len()
            + s(&self.subject)
            + s(&self.body_text)
            + s(&self.body_html)
            + s(&self.transport_headers)
            + s(&self.sender_name)
            + s(&self.sender_email)
            + a(&self.to)
            + a(&self.cc)
            + a(&self.bcc)
            + 256
    }
}

/// One attachment as a flat record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attachment {
    pub message_key: String,
    /// The attachment's subnode id within its message.
    pub key: String,
    pub filename: Option<String>,
    pub mime_type: Option<String>,
    pub method: Option<i32>,
    /// Bytes of the attachment data (for embedded messages: the declared
    /// attachment size).
    pub size_bytes: i64,
    /// SHA-256 of the data, lowercase hex; none for embedded messages.
    pub sha256: Option<String>,
    /// The data, when kept.
    pub content: Option<Vec<u8>>,
    /// Key of the message row made from an embedded message.
    pub embedded_message_key: Option<String>,
}

/// Receives records as the walk produces them. Returning `Break` stops the
/// walk at once (for example when the output failed).
pub trait Visitor {
    fn message(&mut self, message: Message) -> ControlFlow<()>;
    fn attachment(&mut self, attachment: Attachment) -> ControlFlow<()>;
    /// An item that could not be read and was skipped.
    fn reject(&mut self, location: &str, reason: &str);
    /// A value that was left out of an emitted record.
    fn warn(&mut self, location: &str, reason: &str);
}

/// What a walk did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Walk {
    pub folders: u64,
    /// Messages handed to the visitor, embedded ones included.
    pub messages: u64,
    pub attachments: u64,
    pub rejected: u64,
    /// Folder-level damage: messages were lost with these folders.
    pub damage: Vec<String>,
    /// Messages lost with damaged folders, as their folders count them
    /// (counted by the split that starts the file only).
    pub lost_messages: u64,
    /// Damaged folders whose message count could not be read either.
    pub lost_uncounted: u64,
    /// False for a split that does not start its file: losses of whole
    /// folders are counted by the first split only, to count them once.
    pub counts_losses: bool,
    /// Top-level messages found by the recovery scan (`recover`).
    pub recovered: u64,
    /// True when the visitor stopped the walk.
    pub stopped: bool,
}

impl Walk {
    /// Damage that lost messages no count can tell (a sub-tree, the rest
    /// of the file): reported, and counted once per file as a place where
    /// more were lost.
    fn lost_uncountable(&mut self, damage: String) {
        self.damage.push(damage);
        self.lost_uncounted += u64::from(self.counts_losses);
    }
}

/// A PST mailbox, ready to be walked.
pub struct Mailbox<R> {
    ndb: Ndb<R>,
    settings: Settings,
    /// Set while [`Mailbox::recover`] reads messages, to mark them.
    recovering: bool,
}

struct FolderItem {
    nid: u32,
    path: String,
    depth: usize,
}

impl<R: ReadAt> Mailbox<R> {
    /// Opens a mailbox: checks the header and that the root folder exists
    /// (unless recovering, which can do without the node B-tree).
    pub fn open(src: R, verify_checksums: bool, settings: Settings) -> Result<Self> {
        let mut ndb = Ndb::open(src, verify_checksums)?;
        if !settings.recover {
            ndb.node(ROOT_FOLDER).map_err(|e| e.context("root folder"))?;
        }
        Ok(Mailbox { ndb, settings, recovering: false })
    }

    /// The node database under this mailbox.
    pub fn ndb(&self) -> &Ndb<R> {
        &self.ndb
    }

    /// Walks every folder from the root, depth first, handing each message
    /// and attachment to `visitor`. Fails only when the root folder itself
    /// cannot be read (and no message was handed over yet).
    pub fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<Walk> {
        let mut walk = Walk { counts_losses: self.settings.messages.is_first(), ..Walk::default() };
        // Folders walked, with their paths (recovery files messages by them).
        let mut folder_paths = HashMap::new();
        let mut seen_messages = HashSet::new();
        let mut stack = vec![FolderItem { nid: ROOT_FOLDER, path: String::new(), depth: 0 }];
        while let Some(folder) = stack.pop() {
            if self.ndb.exhausted() {
                walk.lost_uncountable(
                    "read budget exhausted; the rest of the mailbox was not read".to_string(),
                );
                break;
            }
            match folder_paths.entry(folder.nid) {
                Entry::Occupied(_) => {
                    walk.damage.push(format!("folder 0x{:x} appears twice in the hierarchy", folder.nid));
                    continue;
                }
                Entry::Vacant(v) => {
                    v.insert(folder.path.clone());
                }
            }
            let children = match self.folder(&folder, &mut seen_messages, &mut walk, visitor) {
                Ok(children) => children,
                Err(e) if folder.nid == ROOT_FOLDER && walk.messages == 0 => {
                    return Err(e.context("root folder"));
                }
                Err(e) => {
                    // Only the budget ends a folder early (see `folder`).
                    walk.lost_uncountable(format!("folder {}: {e}", describe_folder(&folder)));
                    break;
                }
            };
            if walk.stopped {
                break;
            }
            walk.folders += 1;
            if folder.depth >= self.settings.max_folder_depth && !children.is_empty() {
                walk.lost_uncountable(format!(
                    "folder {}: sub-folders nested deeper than {} levels were not read",
                    describe_folder(&folder),
                    self.settings.max_folder_depth
                ));
                continue;
            }
            stack.extend(children.into_iter().rev());
        }
        if self.settings.recover && !walk.stopped && !self.ndb.exhausted() {
            self.recover(folder_paths, &seen_messages, &mut walk, visitor);
        }
        Ok(walk)
    }

    /// Reads the message nodes of this split's range that the walk did not
    /// reach: those of folders whose contents table is damaged, of
    /// sub-trees lost with a hierarchy table, of everything when the node
    /// B-tree itself is damaged (then its leaves are found by scanning the
    /// file's pages, as scanpst does; see [`Ndb::recoverable_nodes`]).
    /// Each is read and checked exactly as a walked message is (a damaged
    /// one is rejected, not emitted), marked `recovered`, and filed under
    /// its parent folder's path, rebuilt from the nodes' parent links when
    /// the walk did not reach that folder either.
    fn recover(
        &mut self,
        mut folder_paths: HashMap<u32, String>,
        seen: &HashSet<u32>,
        walk: &mut Walk,
        visitor: &mut dyn Visitor,
    ) {
        let (entries, damage) = self.ndb.recoverable_nodes();
        if let Some(e) = damage {
            walk.damage.push(format!("node B-tree: {e}; its leaves were found by scanning the file"));
        }
        let nodes: HashMap<u32, NodeEntry> = entries.iter().map(|e| (e.nid, *e)).collect();
        for e in entries {
            if e.nid & 0x1F != 0x04 || !self.settings.messages.contains(e.nid) || seen.contains(&e.nid) {
                continue;
            }
            let path = self.recovered_path(e.nid_parent, &nodes, &mut folder_paths);
            let location = format!("recovered message {}", e.nid);
            let before = walk.messages;
            self.recovering = true;
            let node = Subnode { bid_data: e.bid_data, bid_sub: e.bid_sub };
            self.message(node, &path, e.nid.to_string(), None, 0, &location, walk, visitor);
            self.recovering = false;
            if walk.messages > before {
                walk.recovered += 1;
            }
            if walk.stopped || self.ndb.exhausted() {
                return;
            }
        }
    }

    /// The folder path of folder `nid` for a recovered message: the walk's
    /// when it reached the folder, else rebuilt from the parent links and
    /// names of the folder nodes up to one the walk reached (or the root);
    /// `(unknown folder 0x…)` when a link or name cannot be read.
    fn recovered_path(
        &mut self,
        nid: u32,
        nodes: &HashMap<u32, NodeEntry>,
        known: &mut HashMap<u32, String>,
    ) -> String {
        let mut chain = Vec::new();
        let mut at = nid;
        let base = loop {
            if let Some(path) = known.get(&at) {
                break Some(path.clone());
            }
            if at == ROOT_FOLDER {
                break Some(String::new());
            }
            match nodes.get(&at) {
                Some(e) if at & 0x1F == 0x02 && chain.len() < self.settings.max_folder_depth => {
                    chain.push(*e);
                    at = e.nid_parent;
                }
                _ => break None,
            }
        };
        let unknown = format!("(unknown folder 0x{nid:x})");
        let Some(mut path) = base else { return unknown };
        for e in chain.into_iter().rev() {
            let Ok(name) = self.folder_name_of(Subnode { bid_data: e.bid_data, bid_sub: e.bid_sub }) else {
                return unknown;
            };
            path = if path.is_empty() { name } else { format!("{path}/{name}") };
            known.insert(e.nid, path.clone());
        }
        path
    }

    /// Reads one folder: emits its messages and returns its sub-folders.
    fn folder(
        &mut self,
        folder: &FolderItem,
        seen_messages: &mut HashSet<u32>,
        walk: &mut Walk,
        visitor: &mut dyn Visitor,
    ) -> Result<Vec<FolderItem>> {
        let base = folder.nid & !0x1F;
        // The folder's name was read by its parent, for the path; its own
        // properties say how many messages its contents table should list
        // (and how many were lost if that table is damaged). Damage to one
        // of a folder's three nodes loses only what that node lists: the
        // messages of a folder whose contents table is damaged are lost,
        // its sub-folders are still read.
        let expected = self.content_count(folder.nid);
        let contents = match self.table_ids(base | 0x0E) {
            Ok(contents) => Some(contents),
            Err(e) => {
                walk.damage.push(format!("folder {}: contents table: {e}", describe_folder(folder)));
                if walk.counts_losses {
                    match expected {
                        Some(n) => walk.lost_messages += n,
                        None => walk.lost_uncounted += 1,
                    }
                }
                None
            }
        };
        // A whole-file fact: reported once, by the split that starts the file.
        let listed = contents.as_ref().map(Vec::len);
        if let (Some(n), Some(listed)) = (expected, listed)
            && n > listed as u64
            && walk.counts_losses
        {
            walk.damage.push(format!(
                "folder {}: the folder counts {n} messages, its contents table lists {}",
                describe_folder(folder),
                listed
            ));
            walk.lost_messages += n - listed as u64;
        }
        for nid in contents.unwrap_or_default() {
            if walk.stopped {
                return Ok(Vec::new());
            }
            if !self.settings.messages.contains(nid) {
                continue; // another split's
            }
            let location = format!("folder {} / message {nid}", describe_folder(folder));
            if nid & 0x1F != 0x04 {
                walk.rejected += 1;
                visitor.reject(&location, &format!("contents table row 0x{nid:x} is not a message"));
                continue;
            }
            if !seen_messages.insert(nid) {
                walk.rejected += 1;
                visitor.reject(&location, "message listed twice");
                continue;
            }
            let node = match self.ndb.node(nid) {
                Ok(n) => Subnode { bid_data: n.bid_data, bid_sub: n.bid_sub },
                Err(e) => {
                    walk.rejected += 1;
                    visitor.reject(&location, &e.to_string());
                    continue;
                }
            };
            let key = nid.to_string();
            self.message(node, &folder.path, key, None, 0, &location, walk, visitor);
            if self.ndb.exhausted() {
                return Err(PstError::limit("read budget exhausted; the rest of the mailbox was not read"));
            }
        }
        let mut children = Vec::new();
        let hierarchy = match self.table_ids(base | 0x0D) {
            Ok(ids) => ids,
            Err(e) => {
                walk.lost_uncountable(format!(
                    "folder {}: hierarchy table: {e}; its sub-folders were not read",
                    describe_folder(folder)
                ));
                Vec::new()
            }
        };
        for nid in hierarchy {
            // Search folders (type 0x03) hold no messages of their own.
            if nid & 0x1F != 0x02 {
                continue;
            }
            let name = match self.folder_name(nid) {
                Ok(name) => name,
                Err(e) => {
                    walk.lost_uncountable(format!(
                        "folder 0x{nid:x} under {}: {e}; it and its sub-folders were not read",
                        describe_folder(folder)
                    ));
                    continue;
                }
            };
            let path = if folder.path.is_empty() { name } else { format!("{}/{name}", folder.path) };
            children.push(FolderItem { nid, path, depth: folder.depth + 1 });
        }
        Ok(children)
    }

    /// Row ids of the folder table node `nid`, in ascending node id order
    /// (the order libpff lists items in, and stable across rewrites of the
    /// table). Every folder has its tables, so a missing one is damage.
    fn table_ids(&mut self, nid: u32) -> Result<Vec<u32>> {
        let node = self.ndb.node(nid)?;
        let table = Table::read(&mut self.ndb, node.bid_data)?;
        let subs = self.ndb.subnodes(node.bid_sub)?;
        let mut ids = table.row_ids(&mut self.ndb, &subs)?;
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The folder's own count of its messages (`PR_CONTENT_COUNT`), if its
    /// properties can be read.
    fn content_count(&mut self, nid: u32) -> Option<u64> {
        let node = self.ndb.node(nid).ok()?;
        let n = PropContext::read(&mut self.ndb, node.bid_data).ok()?.int(tag::CONTENT_COUNT)?;
        u64::try_from(n).ok()
    }

    fn folder_name(&mut self, nid: u32) -> Result<String> {
        let node = self.ndb.node(nid)?;
        self.folder_name_of(Subnode { bid_data: node.bid_data, bid_sub: node.bid_sub })
    }

    fn folder_name_of(&mut self, node: Subnode) -> Result<String> {
        let pc = PropContext::read(&mut self.ndb, node.bid_data)?;
        let subs = self.ndb.subnodes(node.bid_sub)?;
        let cp = self.settings.default_codepage;
        Ok(self.string(&pc, tag::DISPLAY_NAME, &subs, cp)?.unwrap_or_default())
    }

    fn string(
        &mut self,
        pc: &PropContext,
        id: u16,
        subs: &Subnodes,
        codepage: u32,
    ) -> Result<Option<String>> {
        match pc.bytes(id, &mut self.ndb, subs, self.settings.max_value_bytes)? {
            Some((t @ (ptype::STRING | ptype::STRING8 | ptype::BINARY), b)) => {
                Ok(Some(decode(t, &b, codepage)))
            }
            _ => Ok(None),
        }
    }

    /// A string value that may be large: an over-limit value is left out
    /// with a warning instead of failing the message. Damage fails the
    /// message (it is rejected and counted): a message is output as the file
    /// holds it or not at all.
    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        pc: &PropContext,
        id: u16,
        subs: &Subnodes,
        codepage: u32,
        what: &str,
        location: &str,
        visitor: &mut dyn Visitor,
    ) -> Result<Option<String>> {
        match self.string(pc, id, subs, codepage) {
            Err(e) if e.kind == ErrorKind::Limit => {
                visitor.warn(location, &format!("{what} left out: {e}"));
                Ok(None)
            }
            Err(e) => Err(e.context(what)),
            ok => ok,
        }
    }

    /// Reads one message and everything attached to it; failures are
    /// reported to the visitor.
    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        node: Subnode,
        folder_path: &str,
        key: String,
        parent_key: Option<String>,
        depth: usize,
        location: &str,
        walk: &mut Walk,
        visitor: &mut dyn Visitor,
    ) {
        let read = self.read_message(node, folder_path, key, parent_key, location, visitor);
        let (message, subs, attachments) = match read {
            Ok(r) => r,
            Err(e) => {
                walk.rejected += 1;
                visitor.reject(location, &e.to_string());
                return;
            }
        };
        let key = message.key.clone();
        walk.messages += 1;
        if visitor.message(message).is_break() {
            walk.stopped = true;
            return;
        }
        for nid in attachments {
            let at = format!("{location} / attachment {nid}");
            let embedded = match self.attachment(nid, &key, &subs) {
                Ok((attachment, embedded)) => {
                    walk.attachments += 1;
                    if self.settings.attachment_content
                        && attachment.content.is_none()
                        && attachment.sha256.is_some()
                    {
                        visitor.warn(
                            &at,
                            &format!(
                                "content left null: {} bytes is above max_attachment_bytes ({}); size and sha256 \
                                 are of the whole attachment",
                                attachment.size_bytes, self.settings.max_attachment_bytes
                            ),
                        );
                    }
                    if visitor.attachment(attachment).is_break() {
                        walk.stopped = true;
                        return;
                    }
                    embedded
                }
                Err(e) => {
                    walk.rejected += 1;
                    visitor.reject(&at, &e.to_string());
                    continue;
                }
            };
            if let Some((child, child_key)) = embedded {
                if depth + 1 > self.settings.max_embedding_depth {
                    walk.rejected += 1;
                    visitor.reject(&at, "embedded message nested too deep");
                    continue;
                }
                self.message(child, folder_path, child_key, Some(key.clone()), depth + 1, &at, walk, visitor);
                if walk.stopped {
                    return;
                }
            }
        }
    }

    /// Decodes a message's properties and recipients; returns the record,
    /// its subnodes and the ids of its attachments.
    fn read_message(
        &mut self,
        node: Subnode,
        folder_path: &str,
        key: String,
        parent_key: Option<String>,
        location: &str,
        visitor: &mut dyn Visitor,
    ) -> Result<(Message, Subnodes, Vec<u32>)> {
        let subs = self.ndb.subnodes(node.bid_sub)?;
        let pc = PropContext::read(&mut self.ndb, node.bid_data)?;
        // 8-bit strings are in the message's own code page, else the
        // store's (as libpff reads them). `PR_INTERNET_CPID` is the code page
        // of the internet form (the HTML body below), not of these: an ANSI
        // store keeps a UTF-8 mail's subject in its Windows code page.
        let cp = pc
            .int(tag::MESSAGE_CODEPAGE)
            .filter(|&c| c > 0)
            .map_or(self.settings.default_codepage, |c| c as u32);
        let mut m = Message {
            folder_path: folder_path.to_string(),
            key,
            parent_key,
            recovered: self.recovering,
            ..Message::default()
        };
        m.message_class = self.string(&pc, tag::MESSAGE_CLASS, &subs, cp)?;
        m.subject = self.string(&pc, tag::SUBJECT, &subs, cp)?.map(strip_subject_marker);
        m.sender_name = self.string(&pc, tag::SENDER_NAME, &subs, cp)?;
        m.sender_email = match self.string(&pc, tag::SENDER_SMTP_ADDRESS, &subs, cp)? {
            Some(smtp) if !smtp.is_empty() => Some(smtp),
            _ => self.string(&pc, tag::SENDER_EMAIL, &subs, cp)?,
        };
        m.sent_at = pc.filetime(tag::CLIENT_SUBMIT_TIME).and_then(filetime_to_micros);
        m.received_at = pc.filetime(tag::DELIVERY_TIME).and_then(filetime_to_micros);
        m.internet_message_id = self.string(&pc, tag::INTERNET_MESSAGE_ID, &subs, cp)?;
        m.conversation_topic = self.string(&pc, tag::CONVERSATION_TOPIC, &subs, cp)?;
        m.size_bytes = pc.int(tag::MESSAGE_SIZE);
        m.body_text = self.text(&pc, tag::BODY, &subs, cp, "body_text", location, visitor)?;
        m.transport_headers =
            self.text(&pc, tag::TRANSPORT_HEADERS, &subs, cp, "transport_headers", location, visitor)?;
        if self.settings.body_html {
            // Binary HTML is in the internet code page when one is given.
            let html_cp = pc.int(tag::INTERNET_CODEPAGE).filter(|&c| c > 0).map_or(cp, |c| c as u32);
            m.body_html = self.text(&pc, tag::HTML, &subs, html_cp, "body_html", location, visitor)?;
        }
        match self.recipients(&subs, cp) {
            Ok(list) => {
                for (kind, address) in list {
                    match kind {
                        2 => m.cc.push(address),
                        3 => m.bcc.push(address),
                        _ => m.to.push(address),
                    }
                }
            }
            Err(e) if e.kind == ErrorKind::Limit => {
                visitor.warn(location, &format!("recipients left out: {e}"))
            }
            Err(e) => return Err(e.context("recipient table")),
        }
        let attachments = match subs.get(&ATTACHMENT_TABLE) {
            Some(&t) => self.attachment_ids(t).map_err(|e| e.context("attachment table"))?,
            None => {
                // Damage: the subnode tree lost the table.
                if pc.int(tag::MESSAGE_FLAGS).is_some_and(|f| f & MSGFLAG_HASATTACH != 0) {
                    return Err(PstError::corrupt(
                        "the message is flagged as having attachments but has no attachment table",
                    ));
                }
                Vec::new()
            }
        };
        m.attachment_count = attachments.len() as u32;
        Ok((m, subs, attachments))
    }

    fn attachment_ids(&mut self, node: Subnode) -> Result<Vec<u32>> {
        let table = Table::read(&mut self.ndb, node.bid_data)?;
        let subs = self.ndb.subnodes(node.bid_sub)?;
        table.row_ids(&mut self.ndb, &subs)
    }

    /// The recipient table as (recipient type, address) pairs.
    fn recipients(&mut self, subs: &Subnodes, cp: u32) -> Result<Vec<(i64, Address)>> {
        let Some(node) = subs.get(&RECIPIENT_TABLE) else { return Ok(Vec::new()) };
        let table = Table::read(&mut self.ndb, node.bid_data)?;
        let table_subs = self.ndb.subnodes(node.bid_sub)?;
        let rows = table.rows(&mut self.ndb, &table_subs, self.settings.max_value_bytes)?;
        let mut out = Vec::with_capacity(rows.len());
        let max = self.settings.max_value_bytes;
        for row in rows.iter() {
            let kind = table.int(row, tag::RECIPIENT_TYPE).unwrap_or(1) & 0x0F;
            let mut text = |id: u16| -> Result<Option<String>> {
                Ok(table.bytes(row, id, &mut self.ndb, &table_subs, max)?.and_then(|(t, b)| {
                    (t != ptype::GUID).then(|| decode(t, &b, cp)).filter(|s| !s.is_empty())
                }))
            };
            let name = text(tag::DISPLAY_NAME)?;
            let email = match text(tag::SMTP_ADDRESS)? {
                Some(smtp) => Some(smtp),
                None => text(tag::EMAIL_ADDRESS)?,
            };
            out.push((kind, Address { name, email }));
        }
        Ok(out)
    }

    /// Reads attachment `nid` of message `message_key`. For an embedded
    /// message, also returns where it lives and the key its row will have.
    fn attachment(
        &mut self,
        nid: u32,
        message_key: &str,
        subs: &Subnodes,
    ) -> Result<(Attachment, Option<(Subnode, String)>)> {
        let node = *subs
            .get(&nid)
            .ok_or_else(|| PstError::corrupt(format!("attachment subnode 0x{nid:x} is missing")))?;
        let att_subs = self.ndb.subnodes(node.bid_sub)?;
        let pc = PropContext::read(&mut self.ndb, node.bid_data)?;
        let cp = self.settings.default_codepage;
        let mut a = Attachment {
            message_key: message_key.to_string(),
            key: nid.to_string(),
            ..Attachment::default()
        };
        // The first non-empty name; an unreadable one is damage, not a
        // reason to fall back to the next.
        for id in [tag::ATTACH_LONG_FILENAME, tag::ATTACH_FILENAME, tag::DISPLAY_NAME] {
            if let Some(name) = self.string(&pc, id, &att_subs, cp)?.filter(|s| !s.is_empty()) {
                a.filename = Some(name);
                break;
            }
        }
        a.mime_type = self.string(&pc, tag::ATTACH_MIME_TAG, &att_subs, cp)?.filter(|s| !s.is_empty());
        let method = pc.int(tag::ATTACH_METHOD);
        a.method = method.map(|m| m as i32);
        let data = pc.hnid(tag::ATTACH_DATA);
        if let (Some((ptype::OBJECT, raw)), Some(ATTACH_EMBEDDED_MESSAGE)) = (data, method) {
            // The value names a subnode of the attachment holding the
            // embedded message.
            let Hnid::Heap(hid) = Hnid::from_raw(raw) else {
                return Err(PstError::corrupt("embedded message descriptor is not in the heap"));
            };
            let d = pc.heap_bytes(hid)?;
            if d.len() < 4 {
                return Err(PstError::corrupt("embedded message descriptor is too short"));
            }
            let child_nid = u32::from_le_bytes(d[..4].try_into().expect("4"));
            let child = *att_subs.get(&child_nid).ok_or_else(|| {
                PstError::corrupt(format!("embedded message subnode 0x{child_nid:x} is missing"))
            })?;
            a.size_bytes = pc.int(tag::ATTACH_SIZE).unwrap_or(0);
            let child_key = format!("{message_key}/{nid}");
            a.embedded_message_key = Some(child_key.clone());
            return Ok((a, Some((child, child_key))));
        }
        if let Some((ptype::BINARY | ptype::OBJECT, raw)) = data {
            self.attachment_data(&pc, raw, &att_subs, &mut a)?;
        }
        Ok((a, None))
    }

    /// Streams the attachment bytes through SHA-256, keeping them only when
    /// asked and within the size limit.
    fn attachment_data(
        &mut self,
        pc: &PropContext,
        raw: u32,
        subs: &Subnodes,
        a: &mut Attachment,
    ) -> Result<()> {
        let keep = self.settings.attachment_content;
        let max_keep = self.settings.max_attachment_bytes;
        let mut hasher = Sha256::new();
        let mut content: Option<Vec<u8>> = keep.then(Vec::new);
        let mut total = 0u64;
        let mut feed = |chunk: &[u8]| {
            hasher.update(chunk);
            total += chunk.len() as u64;
            if let Some(c) = content.as_mut() {
                if total <= max_keep {
                    c.extend_from_slice(chunk);
                } else {
                    content = None;
                }
            }
        };
        match Hnid::from_raw(raw) {
            Hnid::Heap(hid) => feed(pc.heap_bytes(hid)?),
            Hnid::Subnode(nid) => {
                let sub = subs.get(&nid).ok_or_else(|| {
                    PstError::corrupt(format!("attachment data subnode 0x{nid:x} is missing"))
                })?;
                let tree = self.ndb.data_tree(sub.bid_data, u64::MAX)?;
                for leaf in tree.leaves {
                    let block = self.ndb.read_block(leaf)?;
                    feed(&block);
                }
                if let Some(declared) = tree.declared
                    && declared != total
                {
                    return Err(PstError::corrupt(format!(
                        "attachment data declares {declared} bytes but holds {total}"
                    )));
                }
            }
        }
        a.size_bytes = total as i64;
        a.sha256 = Some(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect());
        a.content = content;
        Ok(())
    }
}

fn describe_folder(folder: &FolderItem) -> String {
    if folder.path.is_empty() { "(root)".to_string() } else { folder.path.clone() }
}

/// FILETIME (100 ns ticks since 1601-01-01) to microseconds since the Unix
/// epoch; none for zero, negative and far-future values.
pub fn filetime_to_micros(ft: i64) -> Option<i64> {
    // 9999-12-31T23:59:59Z as FILETIME.
    const MAX: i64 = 2_650_467_743_990_000_000;
    if ft <= 0 || ft > MAX {
        return None;
    }
    Some(ft / 10 - 11_644_473_600_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_conversion() {
        // 1970-01-01 is 116444736000000000 ticks after 1601-01-01.
        assert_eq!(filetime_to_micros(116_444_736_000_000_000), Some(0));
        assert_eq!(filetime_to_micros(116_444_736_000_000_000 + 10), Some(1));
        assert_eq!(filetime_to_micros(0), None);
        assert_eq!(filetime_to_micros(i64::MAX), None);
    }
}
