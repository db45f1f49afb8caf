//! The second stage of configuration: a parsed [`RawPipeline`] becomes a
//! validated [`Pipeline`]. Every value is checked, paths resolve against
//! the pipeline file's folder, plugin names against the catalog, defaults
//! ([`super::model::defaults`]) fill what the file leaves out, and *every*
//! problem is collected, each at its key and place in the file. One method
//! of [`Validator`] per kind of stage.

use super::diagnostics::did_you_mean;
use super::model::*;
use super::raw::{
    OneOrMany, RawGrants, RawLimits, RawPipeline, RawRun, RawSideTable, RawSource, RawTransform,
};
use super::{ConfigError, ConfigErrors, Location, SourceMap};
use indexmap::IndexMap;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

mod sinks;

/// Collects the problems of one pipeline while checking it.
pub(super) struct Validator<'a> {
    dir: PathBuf,
    map: &'a SourceMap,
    errors: ConfigErrors,
}

impl Validator<'_> {
    fn at<T>(&self, s: &Spanned<T>) -> Option<Location> {
        self.map.span(s.span())
    }

    fn error(
        &mut self,
        key: impl Into<String>,
        at: Option<Location>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut e = ConfigError::new(key, message).at(at);
        e.hint = hint;
        self.errors.push(e);
    }

    fn plugin(&mut self, id: &str, p: &Spanned<String>) -> PluginRef {
        let text = p.get_ref().trim();
        let at = self.at(p);
        if text.is_empty() {
            self.error(
                format!("{id}.plugin"),
                at,
                "empty plugin name",
                Some(format!("bundled plugins: {}", crate::catalog::bundled_names().join(", "))),
            );
            return PluginRef::Named(String::new());
        }
        if text.ends_with(".wasm") || text.contains('/') || text.contains('\\') {
            let path = self.dir.join(text);
            if !path.is_file() {
                self.error(
                    format!("{id}.plugin"),
                    at,
                    format!("plugin file {} does not exist", path.display()),
                    Some("paths are relative to the pipeline file; build the plugin with `cargo build --release --target wasm32-wasip2`".into()),
                );
            }
            return PluginRef::File(path);
        }
        if !crate::catalog::exists(text) {
            let names = crate::catalog::bundled_names();
            let hint = match did_you_mean(text, names.iter().copied()) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!(
                    "bundled plugins: {}; or give a path to a .wasm file, or add its folder to RUNTIME_PLUGIN_PATH",
                    names.join(", ")
                ),
            };
            self.error(format!("{id}.plugin"), at, format!("no plugin named `{text}`"), Some(hint));
        }
        PluginRef::Named(text.to_string())
    }

    fn options(&mut self, id: &str, o: &Option<Spanned<toml::Table>>) -> (String, Option<Location>) {
        match o {
            None => ("{}".to_string(), None),
            Some(t) => {
                let json = toml_to_json(&toml::Value::Table(t.get_ref().clone()));
                match serde_json::to_string(&json) {
                    Ok(s) => (s, self.at(t)),
                    Err(e) => {
                        self.error(
                            format!("{id}.options"),
                            self.at(t),
                            format!("cannot encode options: {e}"),
                            None,
                        );
                        ("{}".to_string(), None)
                    }
                }
            }
        }
    }

    fn limits(&mut self, id: &str, l: &Option<Spanned<RawLimits>>) -> Limits {
        let mut limits = Limits::default();
        let Some(l) = l else { return limits };
        let l = l.get_ref();
        if let Some(m) = &l.memory {
            limits.memory = m.get_ref().0;
            if limits.memory < (1 << 20) || limits.memory > (16u64 << 30) {
                let at = self.at(m);
                self.error(
                    format!("{id}.limits.memory"),
                    at,
                    format!("{} is out of range", m.get_ref()),
                    Some("use between 1 MiB and 16 GiB".into()),
                );
            }
        }
        if let Some(t) = &l.time {
            limits.time = t.get_ref().0;
            if limits.time < Duration::from_millis(10) {
                let at = self.at(t);
                self.error(format!("{id}.limits.time"), at, "must be at least 10 ms", None);
            }
        }
        if let Some(f) = &l.fuel {
            limits.fuel = Some(*f.get_ref());
        }
        if let Some(o) = &l.output_bytes {
            limits.output_bytes = o.get_ref().0;
        }
        if let Some(s) = &l.stack {
            limits.stack = s.get_ref().0;
            if limits.stack < (64 << 10) || limits.stack > (64 << 20) {
                let at = self.at(s);
                self.error(
                    format!("{id}.limits.stack"),
                    at,
                    format!("{} is out of range", s.get_ref()),
                    Some("use between 64 KiB and 64 MiB".into()),
                );
            }
        }
        limits
    }

    fn grants(&mut self, id: &str, g: &Option<Spanned<RawGrants>>) -> Grants {
        let Some(g) = g else { return Grants::default() };
        let g = g.get_ref();
        let mut grants = Grants::default();
        for n in &g.network {
            let text = n.get_ref().trim();
            let ok = text
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                let at = self.at(n);
                self.error(
                    format!("{id}.grants.network"),
                    at,
                    format!("`{text}` is not host:port"),
                    Some("write e.g. \"127.0.0.1:5432\"".into()),
                );
            }
            grants.network.push(text.to_string());
        }
        for e in &g.env {
            let text = e.get_ref().trim();
            if text.is_empty() || text.contains('=') {
                let at = self.at(e);
                self.error(
                    format!("{id}.grants.env"),
                    at,
                    format!("`{text}` is not an environment variable name"),
                    None,
                );
            }
            grants.env.push(text.to_string());
        }
        grants
    }

    fn inputs(&mut self, id: &str, i: &Option<Spanned<OneOrMany>>) -> (Vec<String>, Option<Location>) {
        let Some(i) = i else { return (Vec::new(), None) };
        let at = self.at(i);
        let list = i.get_ref().to_vec();
        if list.is_empty() {
            self.error(
                format!("{id}.inputs"),
                at.clone(),
                "empty list of inputs",
                Some("list at least one path or glob, or remove the key".into()),
            );
        }
        for g in &list {
            if let Err(e) = glob::Pattern::new(g) {
                self.error(
                    format!("{id}.inputs"),
                    at.clone(),
                    format!("`{g}` is not a valid glob: {e}"),
                    None,
                );
            }
        }
        (list, at)
    }

    /// `source.inputs_from`: the list file must exist; its lines are read
    /// when the inputs are expanded.
    fn input_list(&mut self, l: &Spanned<String>) -> InputList {
        let at = self.at(l);
        let shown = l.get_ref().clone();
        let path = self.dir.join(&shown);
        if shown.trim().is_empty() {
            self.error(
                "source.inputs_from",
                at.clone(),
                "empty path",
                Some("name a text file listing one path or glob per line".into()),
            );
        } else if !path.is_file() {
            let what = if path.is_dir() { "is a folder, not a list file" } else { "does not exist" };
            self.error(
                "source.inputs_from",
                at.clone(),
                format!("list file {shown} {what}"),
                Some("a text file with one path or glob per line, relative to the pipeline file".into()),
            );
        }
        InputList { path, shown, at }
    }

    fn common(
        &mut self,
        id: String,
        plugin: &Spanned<String>,
        options: &Option<Spanned<toml::Table>>,
        limits: &Option<Spanned<RawLimits>>,
        grants: &Option<Spanned<RawGrants>>,
    ) -> StageCommon {
        let plugin_at = self.at(plugin);
        let plugin = self.plugin(&id, plugin);
        let (options, options_at) = self.options(&id, options);
        let limits = self.limits(&id, limits);
        let grants = self.grants(&id, grants);
        StageCommon { id, plugin, plugin_at, options, options_at, limits, grants }
    }

    /// `[source]`.
    fn source(&mut self, s: &RawSource) -> SourceStage {
        let common = self.common("source".into(), &s.plugin, &s.options, &s.limits, &s.grants);
        let (inputs, inputs_at) = self.inputs("source", &s.inputs);
        let max_split_bytes = match &s.max_split_bytes {
            Some(m) if m.get_ref().0 < 4096 => {
                let at = self.at(m);
                self.error(
                    "source.max_split_bytes",
                    at,
                    "must be at least 4 KiB",
                    Some("use e.g. \"64 MiB\"".into()),
                );
                m.get_ref().0
            }
            Some(m) => m.get_ref().0,
            None => defaults::MAX_SPLIT_BYTES,
        };
        let inputs_from = s.inputs_from.as_ref().map(|l| self.input_list(l));
        SourceStage { common, inputs, inputs_at, inputs_from, max_split_bytes }
    }

    /// One `[side_tables.NAME]`.
    fn side_table(&mut self, name: &str, t: &Spanned<RawSideTable>) -> SideTableStage {
        let id = format!("side_tables.{name}");
        let st = t.get_ref();
        let common = self.common(id.clone(), &st.plugin, &st.options, &st.limits, &st.grants);
        let (inputs, inputs_at) = self.inputs(&id, &st.inputs);
        SideTableStage {
            name: name.to_string(),
            common,
            inputs,
            inputs_at,
            output: st.output.as_ref().map(|o| o.get_ref().clone()),
            max_bytes: st.max_bytes.as_ref().map_or(defaults::SIDE_TABLE_MAX_BYTES, |m| m.get_ref().0),
        }
    }

    /// The `i`th `[[transforms]]`; `names` holds the names seen so far.
    fn transform(
        &mut self,
        i: usize,
        t: &Spanned<RawTransform>,
        names: &mut HashSet<String>,
        side_tables: &IndexMap<String, Spanned<RawSideTable>>,
    ) -> TransformStage {
        let tr = t.get_ref();
        let name = tr.name.get_ref().trim().to_string();
        let id = format!("transforms.{}", if name.is_empty() { i.to_string() } else { name.clone() });
        if !valid_name(&name) {
            let at = self.at(&tr.name);
            self.error(
                format!("{id}.name"),
                at,
                format!("`{name}` is not a valid stage name"),
                Some("use letters, digits, `_` and `-`".into()),
            );
        } else if !names.insert(name.clone()) {
            let at = self.at(&tr.name);
            self.error(
                format!("{id}.name"),
                at,
                format!("two transforms are named `{name}`"),
                Some("stage names must be unique".into()),
            );
        }
        let common = self.common(id.clone(), &tr.plugin, &tr.options, &tr.limits, &tr.grants);
        let mut st_names = Vec::new();
        for s in &tr.side_tables {
            let n = s.get_ref();
            if !side_tables.contains_key(n) {
                let at = self.at(s);
                let hint = match did_you_mean(n, side_tables.keys().map(String::as_str)) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => "declare it as [side_tables.NAME]".to_string(),
                };
                self.error(format!("{id}.side_tables"), at, format!("no side table named `{n}`"), Some(hint));
            }
            st_names.push(n.clone());
        }
        TransformStage {
            name,
            common,
            input: tr.input.as_ref().map(|s| s.get_ref().clone()),
            input_at: tr.input.as_ref().and_then(|s| self.at(s)),
            side_tables: st_names,
        }
    }
}

/// Checks a parsed pipeline and builds the validated [`Pipeline`], with
/// every problem collected.
pub fn validate(file: &Path, raw: RawPipeline, map: SourceMap) -> Result<Pipeline, ConfigErrors> {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let mut v = Validator { dir: dir.clone(), map: &map, errors: ConfigErrors::default() };

    if *raw.version.get_ref() != VERSION {
        let at = v.at(&raw.version);
        v.error(
            "version",
            at,
            format!("unsupported pipeline version {}", raw.version.get_ref()),
            Some(format!("this runtime reads version = {VERSION}")),
        );
    }
    let source = v.source(raw.source.get_ref());
    let side_tables: Vec<SideTableStage> =
        raw.side_tables.iter().map(|(name, t)| v.side_table(name, t)).collect();
    let mut names = HashSet::new();
    let transforms: Vec<TransformStage> = raw
        .transforms
        .iter()
        .enumerate()
        .map(|(i, t)| v.transform(i, t, &mut names, &raw.side_tables))
        .collect();
    if raw.sinks.is_empty() {
        v.error(
            "sinks",
            None,
            "the pipeline writes nothing",
            Some("add a [sinks.NAME] table with `format` and `path`".into()),
        );
    }
    let pipeline_name = raw.name.clone().unwrap_or_else(|| default_name(file));
    let mut paths = HashSet::new();
    let sinks: Vec<SinkStage> =
        raw.sinks.iter().map(|(name, s)| v.sink(name, s, &mut paths, &pipeline_name)).collect();
    let run = v.run(raw.run.as_ref());
    let errors = std::mem::take(&mut v.errors);
    errors.into_result(Pipeline {
        file: file.to_path_buf(),
        dir,
        name: pipeline_name,
        source,
        side_tables,
        transforms,
        sinks,
        run,
    })
}

fn default_name(file: &Path) -> String {
    file.file_stem().map_or("pipeline".into(), |s| s.to_string_lossy().into_owned())
}

impl Validator<'_> {
    /// `[run]`.
    fn run(&mut self, raw: Option<&Spanned<RawRun>>) -> RunSettings {
        let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut s = RunSettings {
            workers: default_workers,
            max_failed_splits: FailurePolicy::Ratio(defaults::MAX_FAILED_SPLITS_RATIO),
            retries: defaults::RETRIES,
            retry_backoff: defaults::RETRY_BACKOFF,
            channel_batches: defaults::CHANNEL_BATCHES,
            max_staged_bytes: defaults::MAX_STAGED_BYTES,
            quarantine: None,
            resume: false,
        };
        let Some(r) = raw else { return s };
        let r = r.get_ref();
        if let Some(w) = &r.workers {
            if *w.get_ref() == 0 || *w.get_ref() > 1024 {
                let at = self.at(w);
                self.error("run.workers", at, "must be between 1 and 1024", None);
            } else {
                s.workers = *w.get_ref() as usize;
            }
        }
        if let Some(m) = &r.max_failed_splits {
            match parse_policy(m.get_ref()) {
                Ok(p) => s.max_failed_splits = p,
                Err(msg) => {
                    let at = self.at(m);
                    self.error(
                        "run.max_failed_splits",
                        at,
                        msg,
                        Some("write a count such as 3, or a percentage such as \"10%\"".into()),
                    );
                }
            }
        }
        if let Some(n) = &r.retries {
            s.retries = (*n.get_ref()).min(100) as u32;
        }
        if let Some(b) = &r.retry_backoff {
            s.retry_backoff = b.get_ref().0;
        }
        if let Some(c) = &r.channel_batches {
            if *c.get_ref() == 0 {
                let at = self.at(c);
                self.error("run.channel_batches", at, "must be at least 1", None);
            } else {
                s.channel_batches = *c.get_ref() as usize;
            }
        }
        if let Some(m) = &r.max_staged_bytes {
            s.max_staged_bytes = m.get_ref().0;
        }
        if let Some(x) = &r.resume {
            s.resume = *x.get_ref();
        }
        if let Some(q) = &r.quarantine {
            s.quarantine = Some(self.dir.join(q.get_ref()));
        }
        s
    }
}

pub(crate) fn parse_policy(v: &toml::Value) -> Result<FailurePolicy, String> {
    match v {
        toml::Value::Integer(n) if *n >= 0 => Ok(FailurePolicy::Count(*n as u64)),
        toml::Value::String(s) => {
            let t = s.trim();
            let pct =
                t.strip_suffix('%').ok_or_else(|| format!("`{t}` is neither a count nor a percentage"))?;
            let r: f64 = pct.trim().parse().map_err(|_| format!("`{t}` is not a percentage"))?;
            if !(0.0..=100.0).contains(&r) {
                return Err(format!("`{t}` is not between 0% and 100%"));
            }
            Ok(FailurePolicy::Ratio(r / 100.0))
        }
        other => Err(format!("`{other}` is neither a count nor a percentage")),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Converts TOML to JSON for plugin options. Dates and times become strings.
pub fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}
