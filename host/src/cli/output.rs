//! How the commands write: diagnostics to stderr (text, colored on a
//! terminal, or JSON objects with `--log-format json`), results to stdout,
//! fitted to the terminal's width.

use crate::config::{ConfigError, ConfigErrors};
use crate::plan::PlannedFile;
use crate::plugin;
use crate::units::ByteSize;
use std::io::IsTerminal;
use std::path::Path;

/// How diagnostics are written to stderr.
pub struct Out {
    pub json: bool,
    pub color: bool,
}

impl Out {
    pub fn config_errors(&self, file: &Path, e: &ConfigErrors) {
        if self.json {
            for err in &e.0 {
                eprintln!("{}", err.to_json());
            }
            return;
        }
        eprintln!("{}", e.render(self.color));
        let n = e.0.len();
        let summary = format!(
            "{}: {n} problem{}; nothing was read or written",
            file.display(),
            if n == 1 { "" } else { "s" }
        );
        if self.color {
            eprintln!("\x1b[1m{summary}\x1b[0m");
        } else {
            eprintln!("{summary}");
        }
    }

    /// An error that is not about a line of the pipeline file, with how to
    /// fix it, rendered like the config errors.
    pub fn error_with_hint(&self, message: &str, hint: &str) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "level": "error", "message": message, "hint": hint }));
        } else {
            eprint!("{}", ConfigError::new("", message).hint(hint).render(self.color));
        }
    }

    pub fn error(&self, message: &str) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "level": "error", "message": message }));
        } else if self.color {
            eprintln!("\x1b[1;31merror\x1b[0m\x1b[1m:\x1b[0m {message}");
        } else {
            eprintln!("error: {message}");
        }
    }
}

impl Out {
    /// Reports why a pipeline could not be loaded; the exit status.
    pub fn load_error(&self, e: &crate::prepare::load::LoadError) -> crate::report::Exit {
        use crate::prepare::load::LoadError;
        match e {
            LoadError::Config { file, errors } => {
                self.config_errors(file, errors);
                crate::report::Exit::Config
            }
            LoadError::Engine(_) => {
                self.error(&e.to_string());
                crate::report::Exit::Internal
            }
        }
    }
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn columns(n: usize) -> String {
    plural(n, "column", "columns")
}

/// The columns a reader inferred, with the options to paste to fix them
/// under `options_table` (`source.options`, `side_tables.NAME.options`):
/// `runtime validate` and `runtime plan` print this.
pub fn print_inferred(inferred: &[(String, String)], options_table: &str) {
    for (output, fields) in inferred {
        println!(
            "  inferred    `{output}` columns from the inputs; to fix them, put under [{options_table}]:"
        );
        for line in fields.lines() {
            println!("                {line}");
        }
    }
}

pub fn files_phrase(files: &[PlannedFile]) -> String {
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    format!("{}, {}", plural(files.len(), "input file", "input files"), ByteSize(bytes))
}

/// The width to fit lines to: the terminal's, else `COLUMNS`, else 100.
pub fn output_width() -> usize {
    if std::io::stdout().is_terminal() {
        let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes one `winsize` into the pointed-to value.
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col >= 40 {
            return ws.ws_col as usize;
        }
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|c| *c >= 40).unwrap_or(100)
}

/// The first sentence of `text`, cut to `width` characters with `…`.
pub fn one_line(text: &str, width: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = match flat.find(". ") {
        Some(i) => &flat[..i + 1],
        None => flat.as_str(),
    };
    if first.chars().count() <= width {
        return first.to_string();
    }
    let mut cut: String = first.chars().take(width.saturating_sub(1)).collect();
    if let Some(i) = cut.rfind(' ').filter(|i| *i > width / 2) {
        cut.truncate(i);
    }
    cut.trim_end_matches([',', ';', ':', ' ']).to_string() + "…"
}

pub fn kind_name(k: plugin::Kind) -> &'static str {
    k.as_str()
}

/// Splits text into lines of at most `width` characters at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_fit_one_line() {
        assert_eq!(one_line("Reads rows. Then more.", 80), "Reads rows.");
        let long = "Groups rows by the `group_by` columns and computes `aggregates` per group: sum, count";
        let cut = one_line(long, 40);
        assert!(cut.chars().count() <= 40 && cut.ends_with('…'), "{cut}");
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
    }
}
