//! Prints the messages of PST files as JSON Lines, in the shape of
//! `tests/pst/pypff_dump.py`, for comparing the parser with libpff.
//!
//! ```text
//! cargo run --target x86_64-unknown-linux-gnu -p pst --example pst_dump -- [--embedded] FILE.pst...
//! ```

use pst::source::SeekSource;

fn main() {
    let mut embedded = false;
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        if arg == "--embedded" {
            embedded = true;
            continue;
        }
        let name =
            std::path::Path::new(&arg).file_name().map_or(arg.clone(), |n| n.to_string_lossy().into_owned());
        let result = std::fs::File::open(&arg)
            .map_err(pst::error::PstError::from)
            .and_then(SeekSource::new)
            .and_then(|src| pst::dump::dump(src, &name, embedded));
        match result {
            Ok(d) => {
                for r in d.records {
                    println!("{r}");
                }
                for issue in d.issues {
                    eprintln!("{arg}: {issue}");
                }
                for damage in d.walk.damage {
                    eprintln!("{arg}: damaged: {damage}");
                }
            }
            Err(e) => {
                eprintln!("{arg}: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(if failed { 1 } else { 0 });
}
