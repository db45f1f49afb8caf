//! What the mailbox contains, drawn from the seed: the folder tree and each
//! message's fields, recipients and attachments. Nothing here knows the file
//! format; `mailbox` writes what this module draws.

use crate::rng::Rng;

const WORDS: &[&str] = &[
    "budget",
    "review",
    "meeting",
    "quarterly",
    "report",
    "draft",
    "contract",
    "invoice",
    "schedule",
    "update",
    "project",
    "deadline",
    "proposal",
    "summary",
    "agenda",
    "minutes",
    "forecast",
    "audit",
    "migration",
    "server",
    "release",
    "customer",
    "supplier",
    "shipment",
    "Zürich",
    "café",
    "Grüße",
    "naïve",
    "résumé",
    "Montréal",
    "the",
    "and",
    "for",
    "with",
    "please",
    "attached",
    "regarding",
    "follow-up",
    "urgent",
    "thanks",
    "next",
    "week",
    "team",
    "office",
    "plan",
    "numbers",
    "legal",
];
const FIRST: &[&str] =
    &["Anna", "Bob", "Chloé", "David", "Eva", "Frank", "Günter", "Hana", "Ivan", "Júlia", "Kenji", "Lea"];
const LAST: &[&str] =
    &["Smith", "Müller", "Garcia", "Nguyen", "Okafor", "Rossi", "Dubois", "Tanaka", "Novak", "Silva"];
const DOMAINS: &[&str] = &["example.com", "example.org", "corp.example.net", "mail.example.de"];
const FOLDER_NAMES: &[&str] = &[
    "Projects", "Clients", "Archive", "2021", "2022", "2023", "2024", "Q1", "Q2", "Q3", "Q4", "Finance",
    "Legal", "HR", "Travel", "Vendors", "Support", "Reports", "Misc", "Board", "Audit", "Team",
];
const EXTENSIONS: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("jpg", "image/jpeg"),
    ("txt", "text/plain"),
    ("zip", "application/zip"),
];

/// A folder of the tree; `parent` indexes the same list.
#[derive(Debug, Clone)]
pub struct FolderPlan {
    pub name: String,
    pub parent: usize,
    pub depth: usize,
    /// Relative share of the messages.
    pub weight: u64,
}

/// Index of the root folder and of the IPM subtree in the plan.
pub const ROOT: usize = 0;
pub const IPM: usize = 1;

/// Draws a folder tree with `extra` folders below the standard ones,
/// nested up to depth 8 below the IPM subtree.
pub fn folder_tree(rng: &mut Rng, extra: usize) -> Vec<FolderPlan> {
    let f = |name: &str, parent, depth, weight| FolderPlan { name: name.to_string(), parent, depth, weight };
    let mut v = vec![f("", 0, 0, 0), f("Top of Outlook data file", 0, 1, 0), f("Search Root", 0, 1, 0)];
    for (name, w) in [
        ("Inbox", 40),
        ("Sent Items", 15),
        ("Deleted Items", 5),
        ("Outbox", 1),
        ("Drafts", 2),
        ("Archive", 10),
    ] {
        v.push(f(name, IPM, 2, w));
    }
    for _ in 0..extra {
        // Prefer recent folders as parents, which makes deep chains.
        let candidates: Vec<usize> = (3..v.len()).filter(|&i| v[i].depth < 9).collect();
        let parent = if rng.chance(0.5) {
            *candidates.last().expect("standard folders")
        } else {
            *rng.pick(&candidates)
        };
        let depth = v[parent].depth + 1;
        let mut name = rng.pick(FOLDER_NAMES).to_string();
        let siblings: Vec<&str> = v.iter().filter(|x| x.parent == parent).map(|x| x.name.as_str()).collect();
        let mut n = 2;
        let base = name.clone();
        while siblings.contains(&name.as_str()) {
            name = format!("{base} {n}");
            n += 1;
        }
        let weight = if rng.chance(0.2) { rng.range(20, 60) } else { rng.range(1, 10) };
        v.push(f(&name, parent, depth, weight));
    }
    v
}

/// A recipient: type (1 to, 2 cc, 3 bcc), display name, address.
pub type Recipient = (i32, String, String);

/// A message as drawn.
#[derive(Debug, Clone)]
pub struct Message {
    /// The stable id, written as `PR_INTERNET_MESSAGE_ID`.
    pub id: String,
    pub subject: String,
    pub sender_name: String,
    pub sender_email: String,
    pub body: String,
    pub html: Option<String>,
    pub headers: String,
    /// FILETIMEs.
    pub submit: i64,
    pub delivery: i64,
    pub recipients: Vec<Recipient>,
    pub attachments: Vec<Attachment>,
}

/// An attachment: a file whose bytes come from `seed`, or an embedded message.
#[derive(Debug, Clone)]
pub enum Attachment {
    File { name: String, mime: String, size: u64, seed: u64 },
    Embedded(Box<Message>),
}

fn words(rng: &mut Rng, n: u64) -> String {
    (0..n).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn person(rng: &mut Rng) -> (String, String) {
    let (first, last) = (*rng.pick(FIRST), *rng.pick(LAST));
    let ascii = |s: &str| s.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>().to_lowercase();
    (format!("{first} {last}"), format!("{}.{}@{}", ascii(first), ascii(last), rng.pick(DOMAINS)))
}

/// A skewed attachment size: most a few KB, some hundreds of KB, a few up
/// to `max`.
fn attachment_size(rng: &mut Rng, max: u64) -> u64 {
    let r = rng.range(0, 999);
    let size = if r < 700 {
        rng.range(5, 20_000)
    } else if r < 960 {
        rng.range(20_000, 800_000)
    } else if r < 995 {
        rng.range(800_000, 8 << 20)
    } else {
        rng.range(8 << 20, max.max(8 << 20))
    };
    size.min(max)
}

/// Draws message `seq` (unique in the file); `level` is 0 for a top-level
/// message and counts embedding otherwise.
pub fn message(rng: &mut Rng, seed: u64, seq: u64, level: u32, max_attachment: u64) -> Message {
    let id = format!("<synth-{seed}-{seq}@pst-synth.example>");
    let n = rng.range(2, 8);
    let subject = format!("{} #{seq}", words(rng, n));
    let (sender_name, sender_email) = person(rng);
    let paragraphs = if rng.chance(0.1) { rng.range(20, 80) } else { rng.range(1, 6) };
    let body = (0..paragraphs)
        .map(|_| {
            let n = rng.range(5, 60);
            words(rng, n)
        })
        .collect::<Vec<_>>()
        .join("\r\n\r\n");
    let html = rng.chance(0.4).then(|| {
        let paras: String = body.split("\r\n\r\n").map(|p| format!("<p>{p}</p>")).collect();
        format!("<html><head><meta charset=\"utf-8\"></head><body>{paras}</body></html>")
    });
    // 2020-01-01 plus up to five years, in 100 ns units.
    let submit = (1_577_836_800 + rng.range(0, 5 * 365 * 86400) as i64 + 11_644_473_600) * 10_000_000;
    let delivery = submit + rng.range(1, 600) as i64 * 10_000_000;
    let mut recipients = Vec::new();
    for (kind, lo, hi) in [(1, 1, 4), (2, 0, 3), (3, 0, 1)] {
        for _ in 0..rng.range(lo, hi) {
            let (n, e) = person(rng);
            recipients.push((kind, n, e));
        }
    }
    let to = recipients.iter().filter(|r| r.0 == 1).map(|r| r.2.as_str()).collect::<Vec<_>>().join(", ");
    let headers = format!(
        "Received: from mx{}.example.com (mx.example.com [192.0.2.{}])\r\n\tby mail.example.com with ESMTPS\r\n\
         Message-ID: {id}\r\nFrom: {sender_name} <{sender_email}>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n",
        rng.range(1, 9),
        rng.range(1, 254)
    );
    let mut attachments = Vec::new();
    let n_att = match rng.range(0, 99) {
        0..=59 => 0,
        60..=84 => 1,
        85..=95 => rng.range(2, 4),
        _ => rng.range(5, 9),
    };
    for a in 0..n_att {
        if level < 2 && rng.chance(0.06) {
            let sub = message(
                rng,
                seed,
                seq * 100 + a + 1_000_000_000 * (level as u64 + 1),
                level + 1,
                max_attachment,
            );
            attachments.push(Attachment::Embedded(Box::new(sub)));
        } else {
            let (ext, mime) = *rng.pick(EXTENSIONS);
            let name = format!("{}-{}.{ext}", rng.pick(WORDS), a + 1);
            let size = attachment_size(rng, max_attachment);
            attachments.push(Attachment::File { name, mime: mime.to_string(), size, seed: rng.next_u64() });
        }
    }
    Message {
        id,
        subject,
        sender_name,
        sender_email,
        body,
        html,
        headers,
        submit,
        delivery,
        recipients,
        attachments,
    }
}

/// Streams the bytes of a file attachment in chunks of at most `chunk`.
pub fn attachment_bytes(seed: u64, size: u64, chunk: usize, mut sink: impl FnMut(&[u8])) {
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; chunk];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk as u64) as usize;
        rng.fill(&mut buf[..n]);
        sink(&buf[..n]);
        left -= n as u64;
    }
}
