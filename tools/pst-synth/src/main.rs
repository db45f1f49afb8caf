//! `pst-synth`: writes a synthetic, deterministic PST mailbox and the content
//! a reader must find in it, so PST readers can be tested and benchmarked on
//! mailboxes of real size without trusting any reader. See README.md.
//!
//! Modules in data-flow order: `rng` and `content` draw the mailbox,
//! `mailbox` and `message` lay it out as [MS-PST] objects, `digest` records
//! what was written, `ltp` encodes heaps, property and table contexts, `ndb`
//! writes blocks, trees and maps, `header` and `crypt` the bytes they need.

mod content;
mod crypt;
mod digest;
mod header;
mod ltp;
mod mailbox;
mod message;
mod ndb;
mod rng;

use anyhow::{Context, bail};
use clap::Parser;
use std::path::PathBuf;

/// Writes a synthetic PST and FILE.expected.json.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The PST to write.
    #[arg(long)]
    out: PathBuf,
    /// Approximate file size, such as 2GiB or 300MB.
    #[arg(long, conflicts_with = "messages", required_unless_present = "messages")]
    size: Option<String>,
    /// Number of top-level messages.
    #[arg(long)]
    messages: Option<u64>,
    #[arg(long)]
    seed: u64,
    /// Write an ANSI (Outlook 97-2002) PST instead of a Unicode one.
    #[arg(long)]
    ansi: bool,
    #[arg(long, default_value = "compressible", value_parser = ["none", "compressible", "cyclic"])]
    encryption: String,
    /// Largest attachment.
    #[arg(long, default_value = "40MiB")]
    max_attachment: String,
}

/// Parses sizes such as `2GiB`, `40MiB`, `300MB`, `4096`.
fn parse_size(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        u => bail!("unknown size unit {u:?} in {s:?}"),
    };
    Ok((n * mult as f64) as u64)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let format = if args.ansi { ndb::Format::Ansi } else { ndb::Format::Unicode };
    let crypt = match args.encryption.as_str() {
        "none" => crypt::Crypt::None,
        "compressible" => crypt::Crypt::Permute,
        _ => bail!("cyclic encryption is not implemented yet"),
    };
    let amount = match (&args.size, args.messages) {
        (Some(s), _) => mailbox::Amount::Bytes(parse_size(s)?),
        (None, Some(n)) => mailbox::Amount::Messages(n),
        (None, None) => bail!("give --size or --messages"),
    };
    let max_attachment = parse_size(&args.max_attachment)?;
    let plan = mailbox::Plan { seed: args.seed, amount, max_attachment };
    let file =
        std::fs::File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let stem = args.out.with_extension("");
    let digests_path = PathBuf::from(format!("{}.digests.jsonl", stem.display()));
    let expected_path = PathBuf::from(format!("{}.expected.json", stem.display()));
    let mut digests = digest::Digests::create(std::fs::File::create(&digests_path)?);
    let started = std::time::Instant::now();
    let mut ndb = ndb::Ndb::create(file, format, crypt)?;
    let folders = mailbox::write(&mut ndb, &mut digests, &plan)?;
    let size = ndb.finish()?;
    let expected = serde_json::json!({
        "file": args.out.file_name().map(|n| n.to_string_lossy().into_owned()),
        "format": if args.ansi { "ansi" } else { "unicode" },
        "encryption": args.encryption,
        "seed": args.seed,
        "size": size,
        "messages": digests.messages,
        "top_level_messages": digests.messages - digests.embedded,
        "embedded_messages": digests.embedded,
        "attachments": digests.attachments,
        "attachment_bytes": digests.attachment_bytes,
        "folders": folders,
        "per_folder": digests.per_folder,
        "digests_file": digests_path.file_name().map(|n| n.to_string_lossy().into_owned()),
    });
    digests.finish()?;
    std::fs::write(&expected_path, serde_json::to_string_pretty(&expected)? + "\n")?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "pst-synth: {} ({size} bytes, {} messages, {} attachments, {folders} folders) in {secs:.1} s, {:.1} MiB/s",
        args.out.display(),
        expected["messages"],
        expected["attachments"],
        size as f64 / (1 << 20) as f64 / secs.max(1e-9)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("40MiB").unwrap(), 40 << 20);
        assert_eq!(parse_size("300MB").unwrap(), 300_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("3 parsecs").is_err());
    }
}
