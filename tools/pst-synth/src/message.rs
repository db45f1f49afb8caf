//! Writes one message node (top-level or embedded): its property context,
//! recipient table, attachment table and attachments, all in the message's
//! subnode tree ([MS-PST] 2.4.5), and computes its digest as it goes.

use crate::content::{Attachment, Message, attachment_bytes};
use crate::digest::{AttachmentDigest, Digests, MessageDigest};
use crate::ltp::{Col, Subs, Value, ptype, write_pc, write_tc};
use crate::ndb::{DataTreeWriter, Ndb, Result, SubEntry};
use sha2::{Digest, Sha256};

/// The recipient table's columns.
const RECIPIENT_COLS: &[Col] = &[
    Col(0x0C15, ptype::I32),     // PR_RECIPIENT_TYPE
    Col(0x0E0F, ptype::BOOL),    // PR_RESPONSIBILITY
    Col(0x3001, ptype::UNICODE), // PR_DISPLAY_NAME
    Col(0x3002, ptype::UNICODE), // PR_ADDRTYPE
    Col(0x3003, ptype::UNICODE), // PR_EMAIL_ADDRESS
    Col(0x39FE, ptype::UNICODE), // PR_SMTP_ADDRESS
    Col(0x3900, ptype::I32),     // PR_DISPLAY_TYPE
];

/// The attachment table's columns.
const ATTACHMENT_COLS: &[Col] = &[
    Col(0x0E20, ptype::I32),     // PR_ATTACH_SIZE
    Col(0x3704, ptype::UNICODE), // PR_ATTACH_FILENAME
    Col(0x3705, ptype::I32),     // PR_ATTACH_METHOD
    Col(0x370B, ptype::I32),     // PR_RENDERING_POSITION
];

/// Adjusts string column types to the file's format.
pub fn cols_for(ndb: &Ndb, cols: &[Col]) -> Vec<Col> {
    let ansi = ndb.format == crate::ndb::Format::Ansi;
    cols.iter()
        .map(|&Col(id, t)| Col(id, if ansi && t == ptype::UNICODE { ptype::STRING8 } else { t }))
        .collect()
}

/// Where a written message lives, for its folder's contents table.
pub struct Written {
    pub bid_data: u64,
    pub bid_sub: u64,
    pub size: u64,
}

/// Writes `m` and records its digest (and those of embedded messages).
pub fn write_message(
    ndb: &mut Ndb,
    m: &Message,
    folder: &str,
    depth: u32,
    digests: &mut Digests,
) -> Result<Written> {
    let start = ndb.position();
    let mut subs = Subs::new();
    // Recipients.
    let rows: Vec<(u32, Vec<Option<Value>>)> = m
        .recipients
        .iter()
        .enumerate()
        .map(|(i, (kind, name, email))| {
            let cells = vec![
                Some(Value::I32(*kind)),
                Some(Value::Bool(true)),
                Some(Value::Str(name.clone())),
                Some(Value::Str("SMTP".into())),
                Some(Value::Str(email.clone())),
                Some(Value::Str(email.clone())),
                Some(Value::I32(0)),
            ];
            (i as u32, cells)
        })
        .collect();
    table(ndb, &mut subs, 0x692, &cols_for(ndb, RECIPIENT_COLS), &rows)?;
    // Attachments.
    let mut att_rows = Vec::new();
    let mut att_digests = Vec::new();
    for (i, a) in m.attachments.iter().enumerate() {
        let nid = subs.nid(5);
        let mut asubs = Subs::new();
        let mut props = vec![
            (0x0E21, Value::I32(i as i32)),                    // PR_ATTACH_NUM
            (0x370B, Value::I32(-1)),                          // PR_RENDERING_POSITION
            (0x3FDE, Value::I32(65001)),                       // PR_INTERNET_CPID
            (0x0FF9, Value::Bin(nid.to_le_bytes().repeat(4))), // PR_RECORD_KEY
        ];
        let (name, method, size) = match a {
            Attachment::File { name, mime, size, seed } => {
                let (data, sha) = attachment_data(ndb, &mut asubs, *seed, *size)?;
                props.push((0x3701, data));
                props.push((0x3704, Value::Str(name.clone())));
                props.push((0x3707, Value::Str(name.clone())));
                props.push((0x370E, Value::Str(mime.clone())));
                let ext = name.rsplit('.').next().unwrap_or("");
                props.push((0x3703, Value::Str(format!(".{ext}"))));
                att_digests.push(AttachmentDigest {
                    name: name.clone(),
                    size: Some(*size),
                    sha256: Some(sha),
                    embedded: None,
                });
                (name.clone(), 1, *size)
            }
            Attachment::Embedded(sub) => {
                let w = write_message(ndb, sub, folder, depth + 1, digests)?;
                let snid = asubs.nid(4);
                asubs.entries.push(SubEntry { nid: snid, bid_data: w.bid_data, bid_sub: w.bid_sub });
                props.push((0x3701, Value::Object(snid, w.size as u32)));
                let name = sub.subject.clone();
                att_digests.push(AttachmentDigest {
                    name: name.clone(),
                    size: None,
                    sha256: None,
                    embedded: Some(sub.id.clone()),
                });
                (name, 5, w.size)
            }
        };
        props.push((0x3001, Value::Str(name.clone())));
        props.push((0x3705, Value::I32(method)));
        props.push((0x0E20, Value::I32(size.min(i32::MAX as u64) as i32)));
        let bid_data = write_pc(ndb, &mut asubs, &mut props)?;
        let bid_sub = ndb.subnode_tree(&mut asubs.entries)?;
        subs.entries.push(SubEntry { nid, bid_data, bid_sub });
        let cells = vec![
            Some(Value::I32(size.min(i32::MAX as u64) as i32)),
            Some(Value::Str(name)),
            Some(Value::I32(method)),
            Some(Value::I32(-1)),
        ];
        att_rows.push((nid, cells));
    }
    if !att_rows.is_empty() {
        table(ndb, &mut subs, 0x671, &cols_for(ndb, ATTACHMENT_COLS), &att_rows)?;
    }
    // The message's own properties.
    let flags = 0x01 | if m.attachments.is_empty() { 0 } else { 0x10 }; // read, has attachments
    let mut props = vec![
        (0x001A, Value::Str("IPM.Note".into())),
        (0x0017, Value::I32(1)),
        (0x0037, Value::Str(m.subject.clone())),
        (0x0039, Value::I64(ptype::TIME, m.submit)),
        (0x0042, Value::Str(m.sender_name.clone())),
        (0x0064, Value::Str("SMTP".into())),
        (0x0065, Value::Str(m.sender_email.clone())),
        (0x0070, Value::Str(m.subject.clone())),
        (0x007D, Value::Str(m.headers.clone())),
        (0x0C1A, Value::Str(m.sender_name.clone())),
        (0x0C1E, Value::Str("SMTP".into())),
        (0x0C1F, Value::Str(m.sender_email.clone())),
        (0x0E06, Value::I64(ptype::TIME, m.delivery)),
        (0x0E07, Value::I32(flags)),
        (0x0E1B, Value::Bool(!m.attachments.is_empty())),
        (0x0E1D, Value::Str(m.subject.clone())),
        (0x1000, Value::Str(m.body.clone())),
        (0x1035, Value::Str(m.id.clone())),
        (0x3007, Value::I64(ptype::TIME, m.submit)),
        (0x3008, Value::I64(ptype::TIME, m.delivery)),
        (0x3FDE, Value::I32(65001)),
    ];
    if let Some(html) = &m.html {
        props.push((0x1013, Value::Bin(html.as_bytes().to_vec())));
    }
    let size = ndb.position() - start + 1024;
    props.push((0x0E08, Value::I32(size.min(i32::MAX as u64) as i32)));
    let bid_data = write_pc(ndb, &mut subs, &mut props)?;
    let bid_sub = ndb.subnode_tree(&mut subs.entries)?;
    digests.push(MessageDigest::new(m, folder, depth, att_digests))?;
    Ok(Written { bid_data, bid_sub, size })
}

/// Writes a table as subnode `nid` of the message.
fn table(
    ndb: &mut Ndb,
    subs: &mut Subs,
    nid: u32,
    cols: &[Col],
    rows: &[(u32, Vec<Option<Value>>)],
) -> Result<()> {
    let mut tsubs = Subs::new();
    let bid_data = write_tc(ndb, &mut tsubs, cols, rows)?;
    let bid_sub = ndb.subnode_tree(&mut tsubs.entries)?;
    subs.entries.push(SubEntry { nid, bid_data, bid_sub });
    Ok(())
}

/// Writes an attachment's bytes, streamed: inline in the heap when small,
/// otherwise as a subnode data tree. Returns the value and the sha256.
fn attachment_data(ndb: &mut Ndb, asubs: &mut Subs, seed: u64, size: u64) -> Result<(Value, String)> {
    let mut sha = Sha256::new();
    if size <= 3580 {
        let mut data = Vec::new();
        attachment_bytes(seed, size, 4096, |c| data.extend_from_slice(c));
        sha.update(&data);
        return Ok((Value::Bin(data), hex(&sha.finalize())));
    }
    let mut tree = DataTreeWriter::new();
    let mut err = None;
    attachment_bytes(seed, size, ndb.format.max_block(), |c| {
        sha.update(c);
        if err.is_none()
            && let Err(e) = tree.push(ndb, c)
        {
            err = Some(e);
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    let bid_data = tree.finish(ndb)?;
    let nid = asubs.nid(0x1F);
    asubs.entries.push(SubEntry { nid, bid_data, bid_sub: 0 });
    Ok((Value::SubBin(nid), hex(&sha.finalize())))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
