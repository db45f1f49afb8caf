//! Write runtime plugins in plain Rust over Arrow [`RecordBatch`]es.
//!
//! A plugin is a WebAssembly component (`wasm32-wasip2`) that implements the
//! `runtime:plugin@0.2.0` contract in the repository's `wit/` folder. This
//! crate hides the generated bindings and the Arrow IPC encoding: a reader
//! implements [`reader::Reader`] and calls [`export_reader!`]; a transform
//! implements [`transform::Transform`] and calls [`export_transform!`].
//!
//! ```no_run
//! use runtime_plugin_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Options { greeting: String }
//!
//! struct Hello { schema: SchemaRef, greeting: String }
//!
//! impl Reader for Hello {
//!     type Options = Options;
//!     fn describe() -> PluginInfo {
//!         PluginInfo::reader("hello", "0.1.0", "One row per input file")
//!             .output("rows")
//!             .option(OptionSpec::new("greeting", "string", "Text of every row").required())
//!     }
//!     fn new(options: Options) -> Result<Self> {
//!         let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
//!         Ok(Hello { schema, greeting: options.greeting })
//!     }
//!     fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
//!         Ok(vec![("rows".into(), self.schema.clone())])
//!     }
//!     fn read(&mut self, _split: &Split, file: Option<&InputFile>, _input: Option<Input>,
//!             out: &mut Output) -> Result<Outcome> {
//!         let text = format!("{} {}", self.greeting, file.map_or("", |f| &f.path));
//!         let column = Arc::new(StringArray::from(vec![text])) as ArrayRef;
//!         out.emit("rows", &RecordBatch::try_new(self.schema.clone(), vec![column])?)?;
//!         Ok(Outcome::complete())
//!     }
//! }
//!
//! runtime_plugin_sdk::export_reader!(Hello);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm`
//! in `target/wasm32-wasip2/release/` is the component to name in
//! `pipeline.toml` (`plugin = "path/to/hello.wasm"`).

pub mod error;
pub mod inferred;
pub mod info;
pub mod ipc;
pub mod log;
pub mod options;
pub mod reader;
pub mod transform;

pub use arrow_array;
pub use arrow_buffer;
pub use arrow_schema;

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::error::{Error, ErrorKind, Result};
    pub use crate::info::{Capability, OptionSpec, Planning, PluginInfo};
    pub use crate::reader::{Input, InputFile, Outcome, Output, PlanHints, Reader, Split};
    pub use crate::transform::{Mode, SideTables, Transform, Transformer};
    pub use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
    pub use arrow_schema::{DataType, Field, Schema, SchemaRef};
    pub use std::sync::Arc;
}

/// Generated bindings. Not part of the API: use the traits and macros instead.
#[doc(hidden)]
pub mod bindings {
    /// Bindings for the `log` import, shared by both worlds so that logging
    /// from a transform does not pull the reader world into its component.
    pub mod log_world {
        wit_bindgen::generate!({
            inline: "package runtime:sdk; world log-only { import runtime:plugin/log@0.2.0; }",
            path: "wit",
            world: "runtime:sdk/log-only",
            generate_all,
        });
    }

    /// Bindings of the `reader-plugin` world.
    pub mod reader {
        wit_bindgen::generate!({
            path: "wit",
            world: "reader-plugin",
            with: { "runtime:plugin/log@0.2.0": crate::bindings::log_world::runtime::plugin::log },
            generate_all,
            pub_export_macro: true,
            export_macro_name: "__export_reader_world",
            default_bindings_module: "runtime_plugin_sdk::bindings::reader",
        });
    }

    /// Bindings of the `transform-plugin` world.
    pub mod transform {
        wit_bindgen::generate!({
            path: "wit",
            world: "transform-plugin",
            with: { "runtime:plugin/log@0.2.0": crate::bindings::log_world::runtime::plugin::log },
            generate_all,
            pub_export_macro: true,
            export_macro_name: "__export_transform_world",
            default_bindings_module: "runtime_plugin_sdk::bindings::transform",
        });
    }
}
