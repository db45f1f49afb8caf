//! Conversions between the host's types and the WIT types of every
//! version's bindings: one definition, instantiated once per version.
//!
//! The types a version shares with another are identical in WIT, but each
//! `bindgen!` makes Rust types of its own; the host works with its own
//! types ([`CallError`], [`Description`], [`Split`], [`InputFile`]) and
//! meets the generated ones only here and in the call wrappers.

use super::instance::{CallError, ErrorKind, HostError};
use super::reader::{InputFile, Split};
use super::{CapabilityDoc, Description, Kind, OptionDoc, Planning};
use crate::text::{MAX_MESSAGE, MAX_NAME, untrusted};

macro_rules! conversions {
    ($($types:ident)::+, $($log:ident)::+) => {
        const _: () = {
            use $($types)::+ as t;
            use $($log)::+ as l;

            impl From<t::ErrorKind> for ErrorKind {
                fn from(k: t::ErrorKind) -> Self {
                    match k {
                        t::ErrorKind::InvalidOptions => ErrorKind::InvalidOptions,
                        t::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
                        t::ErrorKind::Unsupported => ErrorKind::Unsupported,
                        t::ErrorKind::Io => ErrorKind::Io,
                        t::ErrorKind::Internal => ErrorKind::Internal,
                    }
                }
            }

            impl From<ErrorKind> for t::ErrorKind {
                fn from(k: ErrorKind) -> Self {
                    match k {
                        ErrorKind::InvalidOptions => t::ErrorKind::InvalidOptions,
                        ErrorKind::InvalidInput => t::ErrorKind::InvalidInput,
                        ErrorKind::Unsupported => t::ErrorKind::Unsupported,
                        ErrorKind::Io => t::ErrorKind::Io,
                        ErrorKind::Internal => t::ErrorKind::Internal,
                    }
                }
            }

            impl From<t::PluginError> for CallError {
                fn from(e: t::PluginError) -> Self {
                    let message = untrusted(&e.message, MAX_MESSAGE);
                    CallError::Plugin { kind: e.kind.into(), message, retryable: e.retryable }
                }
            }

            impl From<HostError> for t::PluginError {
                fn from(e: HostError) -> Self {
                    t::PluginError { kind: e.kind.into(), message: e.message, retryable: e.retryable }
                }
            }

            impl From<t::PluginInfo> for Description {
                fn from(i: t::PluginInfo) -> Self {
                    let name = |s: String| untrusted(&s, MAX_NAME);
                    let text = |s: String| untrusted(&s, MAX_MESSAGE);
                    Description {
                        name: name(i.name),
                        version: name(i.version),
                        kind: match i.kind {
                            t::PluginKind::Reader => Kind::Reader,
                            t::PluginKind::Transform => Kind::Transform,
                        },
                        description: text(i.description),
                        options: i
                            .options
                            .into_iter()
                            .map(|o| OptionDoc {
                                name: name(o.name),
                                type_name: name(o.type_name),
                                default: o.default_value.map(text),
                                required: o.required,
                                description: text(o.description),
                            })
                            .collect(),
                        outputs: i.outputs.into_iter().map(name).collect(),
                        planning: match i.planning {
                            t::Planning::WholeFile => Planning::WholeFile,
                            t::Planning::Delimited(b) => Planning::Delimited(b),
                            t::Planning::Plugin => Planning::Plugin,
                        },
                        mergeable: i.mergeable,
                        capabilities: i
                            .capabilities
                            .into_iter()
                            .map(|c| CapabilityDoc {
                                kind: match c.kind {
                                    t::CapabilityKind::Network => "network".into(),
                                    t::CapabilityKind::Environment => "environment".into(),
                                },
                                reason: text(c.reason),
                            })
                            .collect(),
                        wit_package: String::new(),
                    }
                }
            }

            impl From<t::Split> for Split {
                fn from(s: t::Split) -> Self {
                    Split {
                        id: untrusted(&s.id, MAX_NAME),
                        input: s.input,
                        offset: s.offset,
                        length: s.length,
                        payload: s.payload,
                        size_hint: s.size_hint,
                    }
                }
            }

            impl From<&Split> for t::Split {
                fn from(s: &Split) -> Self {
                    t::Split {
                        id: s.id.clone(),
                        input: s.input,
                        offset: s.offset,
                        length: s.length,
                        payload: s.payload.clone(),
                        size_hint: s.size_hint,
                    }
                }
            }

            impl From<&InputFile> for t::InputFile {
                fn from(f: &InputFile) -> Self {
                    t::InputFile { path: f.path.clone(), size: f.size }
                }
            }

            impl From<l::Level> for tracing::Level {
                fn from(l: l::Level) -> Self {
                    match l {
                        l::Level::Trace => tracing::Level::TRACE,
                        l::Level::Debug => tracing::Level::DEBUG,
                        l::Level::Info => tracing::Level::INFO,
                        l::Level::Warn => tracing::Level::WARN,
                        l::Level::Error => tracing::Level::ERROR,
                    }
                }
            }
        };
    };
}

conversions!(
    super::bindings::v1::reader::runtime::plugin::types,
    super::bindings::v1::reader::runtime::plugin::log
);
conversions!(
    super::bindings::v2::reader::runtime::plugin::types,
    super::bindings::v2::reader::runtime::plugin::log
);

#[cfg(test)]
mod tests {
    use super::super::bindings::v2::reader::runtime::plugin::types as t;
    use super::*;

    #[test]
    fn what_a_plugin_says_is_bounded_and_escaped() {
        let split = Split::from(t::Split {
            id: "a\nforged\tline".into(),
            input: None,
            offset: 0,
            length: 0,
            payload: "kept\nas is".into(),
            size_hint: 0,
        });
        assert_eq!(split.id, "a\\nforged\\tline");
        assert_eq!(split.payload, "kept\nas is", "the payload goes back to the plugin untouched");
        let error = CallError::from(t::PluginError {
            kind: t::ErrorKind::Io,
            message: "\x1b[2J".repeat(10_000),
            retryable: false,
        });
        assert!(error.message().starts_with("\\u{1b}[2J") && error.message().len() < MAX_MESSAGE + 40);
        let info = Description::from(t::PluginInfo {
            name: "n\u{202e}".into(),
            version: "1".into(),
            kind: t::PluginKind::Reader,
            description: "d".repeat(1 << 20),
            options: Vec::new(),
            outputs: vec!["rows\n".into()],
            planning: t::Planning::WholeFile,
            mergeable: false,
            capabilities: Vec::new(),
        });
        assert_eq!(info.name, "n\\u{202e}");
        assert_eq!(info.outputs, ["rows\\n"]);
        assert!(info.description.len() < MAX_MESSAGE + 40);
    }
}
