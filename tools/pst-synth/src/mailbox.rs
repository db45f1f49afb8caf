//! The mailbox as Outlook lays it out ([MS-PST] 2.4, 2.7.1): the message
//! store (NID 0x21), the name-to-id map (0x61), the table templates, and the
//! folder tree from the root folder (0x122), each folder with its property
//! context and its hierarchy, contents and associated-contents tables.
//!
//! Folders are written depth first: a folder's messages first, then its
//! sub-folders, then its own nodes, whose counts and tables can then be
//! exact. Only one folder's contents-table rows are in memory at a time.

use crate::content::{self, FolderPlan, IPM, ROOT};
use crate::digest::Digests;
use crate::ltp::{Col, Subs, Value, ptype, write_pc, write_tc};
use crate::message::{cols_for, write_message};
use crate::ndb::{Ndb, NodeEntry, Result};
use crate::rng::Rng;

const HIERARCHY_COLS: &[Col] = &[
    Col(0x3001, ptype::UNICODE), // PR_DISPLAY_NAME
    Col(0x3602, ptype::I32),     // PR_CONTENT_COUNT
    Col(0x3603, ptype::I32),     // PR_CONTENT_UNREAD
    Col(0x360A, ptype::BOOL),    // PR_SUBFOLDERS
    Col(0x3613, ptype::UNICODE), // PR_CONTAINER_CLASS
];

const CONTENTS_COLS: &[Col] = &[
    Col(0x0017, ptype::I32),     // PR_IMPORTANCE
    Col(0x001A, ptype::UNICODE), // PR_MESSAGE_CLASS
    Col(0x0037, ptype::UNICODE), // PR_SUBJECT
    Col(0x0039, ptype::TIME),    // PR_CLIENT_SUBMIT_TIME
    Col(0x0042, ptype::UNICODE), // PR_SENT_REPRESENTING_NAME
    Col(0x0E06, ptype::TIME),    // PR_MESSAGE_DELIVERY_TIME
    Col(0x0E07, ptype::I32),     // PR_MESSAGE_FLAGS
    Col(0x0E08, ptype::I32),     // PR_MESSAGE_SIZE
];

/// {00062008-0000-0000-C000-000000000046} as stored.
const PSETID_COMMON: [u8; 16] = [8, 0x20, 6, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];

/// How many messages to write.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    Messages(u64),
    /// Stop adding messages once the file reaches this many bytes.
    Bytes(u64),
}

/// Settings of one mailbox.
pub struct Plan {
    pub seed: u64,
    pub amount: Amount,
    pub max_attachment: u64,
    /// One more attachment of exactly this size on the first message.
    pub large_attachment: Option<u64>,
}

fn folder_nid(i: usize) -> u32 {
    if i == ROOT { 0x122 } else { ((0x400 + i as u32) << 5) | 2 }
}

/// 16 bytes identifying this store in entry ids.
fn store_uid(seed: u64) -> [u8; 16] {
    let mut r = Rng::new(seed ^ 0x5354_4F52_4555_4944);
    let mut b = [0u8; 16];
    r.fill(&mut b);
    b
}

fn entry_id(uid: &[u8; 16], nid: u32) -> Value {
    let mut v = vec![0u8; 4];
    v.extend_from_slice(uid);
    v.extend_from_slice(&nid.to_le_bytes());
    Value::Bin(v)
}

/// Writes a node whose data is a property context and nothing else.
fn pc_node(ndb: &mut Ndb, nid: u32, parent: u32, props: &mut [(u16, Value)]) -> Result<()> {
    let mut subs = Subs::new();
    let bid_data = write_pc(ndb, &mut subs, props)?;
    let bid_sub = ndb.subnode_tree(&mut subs.entries)?;
    ndb.node(NodeEntry { nid, bid_data, bid_sub, parent });
    Ok(())
}

fn tc_node(ndb: &mut Ndb, nid: u32, cols: &[Col], rows: &[(u32, Vec<Option<Value>>)]) -> Result<()> {
    let mut subs = Subs::new();
    let cols = cols_for(ndb, cols);
    let bid_data = write_tc(ndb, &mut subs, &cols, rows)?;
    let bid_sub = ndb.subnode_tree(&mut subs.entries)?;
    ndb.node(NodeEntry { nid, bid_data, bid_sub, parent: 0 });
    Ok(())
}

struct Writer<'a> {
    ndb: &'a mut Ndb,
    digests: &'a mut Digests,
    plan: &'a Plan,
    folders: Vec<FolderPlan>,
    children: Vec<Vec<usize>>,
    /// Per folder: messages to write (count mode) or the file size to reach
    /// (size mode).
    quota: Vec<u64>,
    next_message: u64,
    rng: Rng,
}

/// Writes the whole mailbox.
pub fn write(ndb: &mut Ndb, digests: &mut Digests, plan: &Plan) -> Result<usize> {
    let mut rng = Rng::new(plan.seed);
    let extra = match plan.amount {
        Amount::Messages(n) => (n / 15).clamp(4, 600) as usize,
        Amount::Bytes(b) => (b / (4 << 20)).clamp(4, 800) as usize,
    };
    let folders = content::folder_tree(&mut rng.fork(1), extra);
    let mut children = vec![Vec::new(); folders.len()];
    for (i, f) in folders.iter().enumerate().skip(1) {
        children[f.parent].push(i);
    }
    let total: u64 = folders.iter().map(|f| f.weight).sum();
    let mut quota = vec![0u64; folders.len()];
    match plan.amount {
        Amount::Messages(n) => {
            let mut r = rng.fork(2);
            for _ in 0..n {
                let mut x = r.range(0, total - 1);
                let i = folders.iter().position(|f| {
                    if x < f.weight {
                        return true;
                    }
                    x -= f.weight;
                    false
                });
                quota[i.expect("weights sum to total")] += 1;
            }
        }
        Amount::Bytes(b) => {
            // Cumulative targets in the order messages are written (pre-order).
            let mut order = Vec::new();
            let mut stack = vec![ROOT];
            while let Some(i) = stack.pop() {
                order.push(i);
                stack.extend(children[i].iter().rev());
            }
            let mut acc = 0u64;
            for i in order {
                acc += folders[i].weight;
                quota[i] = (b as f64 * acc as f64 / total as f64) as u64;
            }
        }
    }
    let uid = store_uid(plan.seed);
    let mut w = Writer { ndb, digests, plan, folders, children, quota, next_message: 0, rng: rng.fork(3) };
    let mut props = vec![
        (0x0FF9, Value::Bin(uid.to_vec())),
        (0x3001, Value::Str(format!("Synthetic mailbox {}", plan.seed))),
        (0x35DF, Value::I32(0x89)),
        (0x35E0, entry_id(&uid, folder_nid(IPM))),
        (0x35E3, entry_id(&uid, folder_nid(content::IPM + 4))),
        (0x35E7, entry_id(&uid, folder_nid(2))),
        (0x67FF, Value::I32(0)),
    ];
    pc_node(w.ndb, 0x21, 0, &mut props)?;
    let mut props = vec![
        (0x0001, Value::I32(251)),
        // One named property, so the streams are not empty (libpff requires
        // the entry stream): PSETID_Common's dispid 0x8580 as property 0x8000.
        (0x0002, Value::Bin(PSETID_COMMON.to_vec())),
        (0x0003, Value::Bin([0x8580u32.to_le_bytes(), [6, 0, 0, 0]].concat())),
        (0x0004, Value::Bin(Vec::new())),
    ];
    pc_node(w.ndb, 0x61, 0, &mut props)?;
    for nid in [0x60D, 0x60E, 0x60F] {
        let cols = if nid == 0x60D { HIERARCHY_COLS } else { CONTENTS_COLS };
        tc_node(w.ndb, nid, cols, &[])?;
    }
    w.folder(ROOT, "")?;
    Ok(w.folders.len())
}

impl Writer<'_> {
    fn more(&self, i: usize, written: u64) -> bool {
        match self.plan.amount {
            Amount::Messages(_) => written < self.quota[i],
            Amount::Bytes(_) => self.ndb.position() < self.quota[i],
        }
    }

    /// Writes folder `i` and everything below it; returns its hierarchy row.
    fn folder(&mut self, i: usize, path: &str) -> Result<Vec<Option<Value>>> {
        let nid = folder_nid(i);
        let mut rows = Vec::new();
        while self.more(i, rows.len() as u64) {
            let seq = self.next_message;
            self.next_message += 1;
            let mut r = self.rng.fork(seq);
            let mut m = content::message(&mut r, self.plan.seed, seq, 0, self.plan.max_attachment);
            if seq == 0
                && let Some(size) = self.plan.large_attachment
            {
                m.attachments.push(content::Attachment::File {
                    name: "large-attachment.bin".to_string(),
                    mime: "application/octet-stream".to_string(),
                    size,
                    seed: r.next_u64(),
                });
            }
            let written = write_message(self.ndb, &m, path, 0, self.digests)?;
            let mnid = ((0x10001 + seq as u32) << 5) | 4;
            self.ndb.node(NodeEntry {
                nid: mnid,
                bid_data: written.bid_data,
                bid_sub: written.bid_sub,
                parent: nid,
            });
            let flags = 0x01 | if m.attachments.is_empty() { 0 } else { 0x10 };
            rows.push((
                mnid,
                vec![
                    Some(Value::I32(1)),
                    Some(Value::Str("IPM.Note".into())),
                    Some(Value::Str(m.subject.clone())),
                    Some(Value::I64(ptype::TIME, m.submit)),
                    Some(Value::Str(m.sender_name.clone())),
                    Some(Value::I64(ptype::TIME, m.delivery)),
                    Some(Value::I32(flags)),
                    Some(Value::I32(written.size.min(i32::MAX as u64) as i32)),
                ],
            ));
        }
        let mut sub_rows = Vec::new();
        for c in self.children[i].clone() {
            let name = self.folders[c].name.clone();
            let sub = if path.is_empty() { name } else { format!("{path}/{name}") };
            sub_rows.push((folder_nid(c), self.folder(c, &sub)?));
        }
        let f = &self.folders[i];
        let class = if f.depth >= 2 { Some(Value::Str("IPF.Note".into())) } else { None };
        let parent = folder_nid(f.parent);
        let mut props = vec![
            (0x3001, Value::Str(f.name.clone())),
            (0x3602, Value::I32(rows.len() as i32)),
            (0x3603, Value::I32(0)),
            (0x360A, Value::Bool(!sub_rows.is_empty())),
        ];
        if let Some(c) = &class {
            props.push((0x3613, c.clone()));
        }
        pc_node(self.ndb, nid, parent, &mut props)?;
        let base = nid & !0x1F;
        tc_node(self.ndb, base | 0xD, HIERARCHY_COLS, &sub_rows)?;
        tc_node(self.ndb, base | 0xE, CONTENTS_COLS, &rows)?;
        tc_node(self.ndb, base | 0xF, CONTENTS_COLS, &[])?;
        Ok(vec![
            Some(Value::Str(f.name.clone())),
            Some(Value::I32(rows.len() as i32)),
            Some(Value::I32(0)),
            Some(Value::Bool(!sub_rows.is_empty())),
            class,
        ])
    }
}
