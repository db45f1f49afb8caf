//! Static facts a plugin declares about itself: name, version, options,
//! outputs, how its inputs are split, and the capabilities it needs.
//!
//! `runtime plugins inspect` prints this, and `runtime validate` uses it to
//! check a pipeline before running it.

/// How a reader's inputs become splits (mirrors WIT `planning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planning {
    /// One split per input file.
    WholeFile,
    /// Files may be cut into byte ranges ending after this delimiter byte.
    Delimited(u8),
    /// The plugin plans its own splits in [`crate::reader::Reader::plan`].
    Plugin,
}

/// A capability the plugin asks the pipeline to grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Outgoing TCP connections to allow-listed host:port pairs.
    Network(String),
    /// Reading allow-listed environment variables.
    Environment(String),
}

/// One option of the plugin, for documentation and `plugins inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: String,
    pub type_name: String,
    pub default_value: Option<String>,
    pub required: bool,
    pub description: String,
}

impl OptionSpec {
    /// An optional option without a default.
    pub fn new(name: &str, type_name: &str, description: &str) -> Self {
        OptionSpec {
            name: name.into(),
            type_name: type_name.into(),
            default_value: None,
            required: false,
            description: description.into(),
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// The default, written as TOML (`"64 MiB"`, `8192`, `true`).
    pub fn default_value(mut self, toml: &str) -> Self {
        self.default_value = Some(toml.into());
        self
    }
}

/// What [`crate::reader::Reader::describe`] and
/// [`crate::transform::Transform::describe`] return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub is_reader: bool,
    pub description: String,
    pub options: Vec<OptionSpec>,
    pub outputs: Vec<String>,
    pub planning: Planning,
    pub mergeable: bool,
    pub capabilities: Vec<Capability>,
}

impl PluginInfo {
    fn new(is_reader: bool, name: &str, version: &str, description: &str) -> Self {
        PluginInfo {
            name: name.into(),
            version: version.into(),
            is_reader,
            description: description.into(),
            options: Vec::new(),
            outputs: Vec::new(),
            planning: Planning::WholeFile,
            mergeable: false,
            capabilities: Vec::new(),
        }
    }
    /// A reader; add its outputs with [`PluginInfo::output`].
    pub fn reader(name: &str, version: &str, description: &str) -> Self {
        Self::new(true, name, version, description)
    }
    /// A transform.
    pub fn transform(name: &str, version: &str, description: &str) -> Self {
        Self::new(false, name, version, description)
    }
    pub fn output(mut self, name: &str) -> Self {
        self.outputs.push(name.into());
        self
    }
    pub fn option(mut self, option: OptionSpec) -> Self {
        self.options.push(option);
        self
    }
    pub fn planning(mut self, planning: Planning) -> Self {
        self.planning = planning;
        self
    }
    /// Marks a transform as an aggregation that runs partial, then final.
    pub fn mergeable(mut self) -> Self {
        self.mergeable = true;
        self
    }
    pub fn capability(mut self, capability: Capability) -> Self {
        self.capabilities.push(capability);
        self
    }
}

macro_rules! wit_conversion {
    ($m:ident, $types:path) => {
        mod $m {
            use super::*;
            use $types as t;
            impl From<PluginInfo> for t::PluginInfo {
                fn from(i: PluginInfo) -> Self {
                    use $types as t;
                    t::PluginInfo {
                        name: i.name,
                        version: i.version,
                        kind: if i.is_reader { t::PluginKind::Reader } else { t::PluginKind::Transform },
                        description: i.description,
                        options: i
                            .options
                            .into_iter()
                            .map(|o| t::OptionSpec {
                                name: o.name,
                                type_name: o.type_name,
                                default_value: o.default_value,
                                required: o.required,
                                description: o.description,
                            })
                            .collect(),
                        outputs: i.outputs,
                        planning: match i.planning {
                            Planning::WholeFile => t::Planning::WholeFile,
                            Planning::Delimited(b) => t::Planning::Delimited(b),
                            Planning::Plugin => t::Planning::Plugin,
                        },
                        mergeable: i.mergeable,
                        capabilities: i
                            .capabilities
                            .into_iter()
                            .map(|c| match c {
                                Capability::Network(reason) => {
                                    t::CapabilityRequest { kind: t::CapabilityKind::Network, reason }
                                }
                                Capability::Environment(reason) => {
                                    t::CapabilityRequest { kind: t::CapabilityKind::Environment, reason }
                                }
                            })
                            .collect(),
                    }
                }
            }
        }
    };
}

wit_conversion!(reader_wit, crate::bindings::reader::runtime::plugin::types);
wit_conversion!(transform_wit, crate::bindings::transform::runtime::plugin::types);
