//! What a reader stage reads, as `prepare` hands it to planning: its globs
//! and, for the source, an `inputs_from` list file, whose problems become
//! configuration errors pointing at their line of the list file.

use crate::config::{ConfigError, ConfigErrors, InputList, Location, Pipeline};
use crate::plan::list::ListError;
use std::path::Path;

/// What a reader stage reads: its globs (and where they are written) and,
/// for the source, a list file.
pub(super) struct Inputs<'a> {
    pub globs: &'a [String],
    pub at: &'a Option<Location>,
    pub list: Option<&'a InputList>,
}

/// A list file's problems as configuration errors, each pointing at its
/// line of the list file.
pub(super) fn list_errors(errors: &mut ConfigErrors, pipeline: &Pipeline, list: &InputList, e: ListError) {
    let key = "source.inputs_from";
    match e {
        ListError::Lines { problems, more } => {
            let file = pipeline.file.parent().unwrap_or(Path::new("")).join(&list.shown);
            for p in problems {
                let start = p.text.len() - p.text.trim_start().len();
                let at = Location {
                    file: file.clone(),
                    line: p.line,
                    column: p.text[..start].chars().count() + 1,
                    width: p.text.trim().chars().count().max(1),
                    source_line: p.text.clone(),
                };
                errors.push(
                    ConfigError::new(key, p.reason)
                        .at(Some(at))
                        .hint("lines of a list file are relative to the list file's folder"),
                );
            }
            if more > 0 {
                errors.push(
                    ConfigError::new(
                        key,
                        format!("{more} more line(s) of {} name no usable input", list.shown),
                    )
                    .at(list.at.clone()),
                );
            }
        }
        e => errors.push(ConfigError::new(key, e.to_string()).at(list.at.clone())),
    }
}
