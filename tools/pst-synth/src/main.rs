//! The `pst-synth` command line: parses the options and calls
//! [`pst_synth::synthesize`]. See README.md.

use anyhow::{Context, bail};
use clap::Parser;
use pst_synth::{Amount, Encryption, Format, Options};
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
    /// Also give the first message an attachment of exactly this size.
    #[arg(long)]
    large_attachment: Option<String>,
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
    let encryption = match args.encryption.as_str() {
        "none" => Encryption::None,
        "compressible" => Encryption::Compressible,
        _ => Encryption::Cyclic,
    };
    let amount = match (&args.size, args.messages) {
        (Some(s), _) => Amount::Bytes(parse_size(s)?),
        (None, Some(n)) => Amount::Messages(n),
        (None, None) => bail!("give --size or --messages"),
    };
    let opts = Options {
        out: args.out,
        amount,
        seed: args.seed,
        format: if args.ansi { Format::Ansi } else { Format::Unicode },
        encryption,
        max_attachment: parse_size(&args.max_attachment)?,
        large_attachment: args.large_attachment.as_deref().map(parse_size).transpose()?,
    };
    let started = std::time::Instant::now();
    let written = pst_synth::synthesize(&opts)?;
    let secs = started.elapsed().as_secs_f64();
    let e = &written.expected;
    eprintln!(
        "pst-synth: {} ({} bytes, {} messages, {} attachments, {} folders) in {secs:.1} s, {:.1} MiB/s",
        opts.out.display(),
        written.size,
        e["messages"],
        e["attachments"],
        e["folders"],
        written.size as f64 / (1 << 20) as f64 / secs.max(1e-9)
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
