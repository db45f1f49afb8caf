//! Random byte mutations of the real PSTs, many more than the generated
//! corpus holds: every mutated file must be read or refused without a
//! panic and within a time bound, with and without checksum verification.
//!
//! The mutations come from a fixed-seed generator, so a failure reproduces.
//! `PST_MUTATIONS` sets the number of mutated files per fixture (default
//! 150); raise it for a longer fuzzing session.

use pst::extract::{MemorySink, read_pst};
use pst::options::Options;
use pst::source::SeekSource;
use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: small, deterministic, good enough to pick offsets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_mutations_never_panic() {
    let per_fixture: usize = std::env::var("PST_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(150);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pst");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pst"))
        .collect();
    names.sort();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failures = Vec::new();
    let (mut read, mut refused) = (0, 0);
    std::panic::set_hook(Box::new(|_| {}));
    for path in &names {
        let original = std::fs::read(path).unwrap();
        for i in 0..per_fixture {
            let mut bytes = original.clone();
            // Mostly small edits in the structures (first 64 KiB hold the
            // B-trees and most blocks), sometimes anywhere.
            let span = if rng.below(4) == 0 { bytes.len() } else { bytes.len().min(64 << 10) };
            for _ in 0..1 + rng.below(64) {
                let at = rng.below(span);
                bytes[at] = rng.next() as u8;
            }
            // The recovery scan (every page tried as a B-tree leaf) too.
            for (verify, recover) in [(true, false), (false, false), (true, true)] {
                let options = Options { verify_checksums: verify, recover, ..Options::default() };
                let data = bytes.clone();
                let started = Instant::now();
                let result = std::panic::catch_unwind(move || {
                    let mut sink = MemorySink::default();
                    read_pst(SeekSource::new(std::io::Cursor::new(data)).unwrap(), "m", &options, &mut sink)
                        .is_ok()
                });
                let took = started.elapsed();
                let label =
                    format!("{} mutation {i} (checksums {verify}, recover {recover})", path.display());
                match result {
                    Ok(true) => read += 1,
                    Ok(false) => refused += 1,
                    Err(_) => failures.push(format!("{label}: panicked")),
                }
                if took > Duration::from_secs(5) {
                    failures.push(format!("{label}: took {took:?}"));
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!("mutations: {read} read (complete or partial), {refused} refused");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
