//! `runtime plugins list` and `runtime plugins inspect`: what plugins this
//! runtime finds, and what one of them takes and produces.

use super::color_stderr;
use super::output::{columns, kind_name, one_line, output_width, wrap};
use crate::config::{self, ConfigError};
use crate::plugin::engine::EngineSettings;
use crate::plugin::{self, Runtime};
use crate::report::{Exit, group};
use std::path::PathBuf;
use std::sync::Arc;

fn describe_runtime() -> Result<Runtime, Exit> {
    Runtime::new(&EngineSettings::default()).map_err(|e| {
        eprintln!("error: cannot start the WebAssembly engine: {e:#}");
        Exit::Internal
    })
}

pub fn plugins_list(json: bool) -> Exit {
    let runtime = match describe_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    struct Entry {
        name: String,
        reference: config::PluginRef,
        file: Option<PathBuf>,
        shadowed: bool,
    }
    let mut entries: Vec<Entry> = crate::catalog::bundled_names()
        .into_iter()
        .map(|n| Entry {
            name: n.to_string(),
            reference: config::PluginRef::Named(n.to_string()),
            file: None,
            shadowed: false,
        })
        .collect();
    for (name, path) in crate::catalog::search_path_plugins() {
        let shadowed = entries.iter().any(|e| e.name == name);
        entries.push(Entry {
            name,
            reference: config::PluginRef::File(path.clone()),
            file: Some(path),
            shadowed,
        });
    }
    let loaded: Vec<Result<Arc<plugin::LoadedPlugin>, plugin::LoadError>> =
        entries.iter().map(|e| runtime.load(&e.reference)).collect();
    if json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .zip(&loaded)
            .map(|(e, l)| {
                let mut v = serde_json::json!({
                    "name": e.name,
                    "from": e.file.as_ref().map_or("bundled".to_string(), |f| f.display().to_string()),
                    "shadowed_by_bundled": e.shadowed,
                });
                match l {
                    Ok(p) => {
                        v["kind"] = serde_json::json!(kind_name(p.description.kind));
                        v["version"] = serde_json::json!(p.description.version);
                        v["wit_package"] = serde_json::json!(p.description.wit_package);
                        v["description"] = serde_json::json!(p.description.description);
                    }
                    Err(err) => v["error"] = serde_json::json!(err.to_string()),
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).unwrap());
        return Exit::Ok;
    }
    let name_w = entries.iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
    let width = output_width();
    println!("{:<name_w$}  {:<9}  {:<7}  {:<7}  DESCRIPTION", "NAME", "KIND", "VERSION", "FROM");
    let used = name_w + 2 + 9 + 2 + 7 + 2 + 7 + 2;
    let desc_w = width.saturating_sub(used).max(30);
    for (e, l) in entries.iter().zip(&loaded) {
        let from = if e.file.is_some() { "path" } else { "bundled" };
        match l {
            Ok(p) => {
                let d = &p.description;
                let mut desc = one_line(&d.description, desc_w);
                if e.shadowed {
                    desc = format!("(shadowed by the bundled {}) {desc}", e.name);
                }
                println!(
                    "{:<name_w$}  {:<9}  {:<7}  {from:<7}  {desc}",
                    e.name,
                    kind_name(d.kind),
                    d.version
                );
            }
            Err(err) => println!(
                "{:<name_w$}  {:<9}  {:<7}  {from:<7}  cannot load: {}",
                e.name,
                "?",
                "?",
                one_line(&err.to_string(), desc_w.saturating_sub(13))
            ),
        }
    }
    let path_entries: Vec<&Entry> = entries.iter().filter(|e| e.file.is_some()).collect();
    match std::env::var_os("RUNTIME_PLUGIN_PATH") {
        None => println!(
            "\n{} bundled; RUNTIME_PLUGIN_PATH is not set (folders of NAME.wasm plugins)",
            crate::catalog::bundled_names().len()
        ),
        Some(v) => {
            println!(
                "\n{} bundled, {} on RUNTIME_PLUGIN_PATH={}",
                crate::catalog::bundled_names().len(),
                path_entries.len(),
                v.to_string_lossy()
            );
            for e in path_entries {
                println!("  {:<name_w$}  {}", e.name, e.file.as_ref().unwrap().display());
            }
        }
    }
    println!("`runtime plugins inspect NAME` shows a plugin's options and outputs.");
    Exit::Ok
}

/// A plugin's output schemas as far as they can be known without a
/// pipeline: readers whose `init` accepts no options at all (pst) report
/// them; others depend on their options, transforms on their input.
enum Outputs {
    Known(Vec<(String, arrow_schema::SchemaRef)>),
    DependsOnOptions(String),
    DependsOnInput,
}

fn known_outputs(runtime: &Runtime, p: &plugin::LoadedPlugin) -> Outputs {
    if p.description.kind == plugin::Kind::Transform {
        return Outputs::DependsOnInput;
    }
    let stage = config::StageCommon {
        id: "inspect".into(),
        plugin: p.reference.clone(),
        plugin_at: None,
        options: "{}".into(),
        options_at: None,
        limits: config::Limits { time: std::time::Duration::from_secs(10), ..Default::default() },
        grants: Default::default(),
    };
    let schemas = runtime
        .reader(p, &stage)
        .and_then(|mut r| r.init("{}").and_then(|_| r.discover(&[], Vec::new())))
        .map_err(|e| e.message().to_string());
    match schemas {
        Ok(s) if !s.is_empty() => Outputs::Known(s),
        Ok(_) => Outputs::DependsOnOptions("the plugin reports no schema without options".into()),
        Err(e) => Outputs::DependsOnOptions(e),
    }
}

fn field_json(f: &arrow_schema::Field) -> serde_json::Value {
    serde_json::json!({ "name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable() })
}

pub fn plugins_inspect(name: &str, json: bool) -> Exit {
    let runtime = match describe_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let reference = if name.ends_with(".wasm") || name.contains('/') {
        config::PluginRef::File(PathBuf::from(name))
    } else {
        config::PluginRef::Named(name.to_string())
    };
    let p = match runtime.load(&reference) {
        Ok(p) => p,
        Err(e) => {
            let hint = match &reference {
                config::PluginRef::Named(n) => {
                    let bundled = crate::catalog::bundled_names();
                    match config::diagnostics::did_you_mean(n, bundled.iter().copied()) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => "`runtime plugins list` shows the plugins this runtime finds".to_string(),
                    }
                }
                config::PluginRef::File(_) => {
                    "give the path to a .wasm component built for wasm32-wasip2".into()
                }
            };
            eprint!("{}", ConfigError::new("", e.to_string()).hint(hint).render(color_stderr()));
            return Exit::Config;
        }
    };
    let d = &p.description;
    let outputs = known_outputs(&runtime, &p);
    if json {
        let mut v = serde_json::to_value(d).expect("a description serializes");
        v["component"] = serde_json::json!({
            "reference": reference.to_string(),
            "bytes": p.size,
            "from_cache": p.from_cache,
        });
        v["output_schemas"] = match &outputs {
            Outputs::Known(s) => serde_json::Value::Object(
                s.iter()
                    .map(|(n, sc)| (n.clone(), sc.fields().iter().map(|f| field_json(f)).collect()))
                    .collect(),
            ),
            Outputs::DependsOnOptions(_) => serde_json::json!("depends on options"),
            Outputs::DependsOnInput => serde_json::json!("depends on the input stream and options"),
        };
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
        return Exit::Ok;
    }
    let kind = kind_name(d.kind);
    println!("{} {} ({kind}, {})", d.name, d.version, d.wit_package);
    for line in wrap(&d.description, 96) {
        println!("  {line}");
    }
    println!();
    println!(
        "  component     {} ({} bytes, {})",
        reference,
        group(p.size as u64),
        if p.from_cache { "compiled, from cache" } else { "compiled now" }
    );
    if d.kind == plugin::Kind::Reader {
        match d.planning {
            plugin::Planning::WholeFile => println!("  splits        one per input file"),
            plugin::Planning::Delimited(b) => println!(
                "  splits        byte ranges of input files, cut after byte {b:#04x}{} (source.max_split_bytes)",
                if b == b'\n' { " (newline)" } else { "" }
            ),
            plugin::Planning::Plugin => println!("  splits        planned by the plugin"),
        }
    } else if d.mergeable {
        println!("  aggregates    yes: runs partial per split, then one final merge");
    }
    if d.capabilities.is_empty() {
        println!("  capabilities  none requested");
    } else {
        for (i, c) in d.capabilities.iter().enumerate() {
            let label = if i == 0 { "capabilities" } else { "" };
            let grant = match c.kind.as_str() {
                "network" => "grants.network",
                "environment" => "grants.env",
                _ => "grants",
            };
            println!("  {label:<12}  {} ({grant}): {}", c.kind, c.reason);
        }
    }
    println!();
    if d.options.is_empty() {
        println!("options: none");
    } else {
        println!("options:");
        let name_w = d.options.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in &d.options {
            let default = if o.required {
                "required".to_string()
            } else {
                o.default.as_ref().map_or("optional".to_string(), |v| format!("default {v}"))
            };
            println!("  {:<name_w$}  {}  ({default})", o.name, o.type_name);
            for line in wrap(&o.description, 92) {
                println!("      {line}");
            }
        }
    }
    println!();
    match &outputs {
        Outputs::DependsOnInput => {
            println!(
                "output: one stream named after the stage; its schema depends on the input stream and options"
            )
        }
        Outputs::DependsOnOptions(why) => {
            println!("outputs: {} (schemas depend on options)", d.outputs.join(", "));
            tracing::debug!("no schema without options: {why}");
        }
        Outputs::Known(schemas) => {
            println!("outputs:");
            for (n, schema) in schemas {
                println!("  {n} ({})", columns(schema.fields().len()));
                let w = schema.fields().iter().map(|f| f.name().len()).max().unwrap_or(0);
                for f in schema.fields() {
                    println!(
                        "    {:<w$}  {}{}",
                        f.name(),
                        f.data_type(),
                        if f.is_nullable() { "" } else { " not null" }
                    );
                }
            }
        }
    }
    Exit::Ok
}
