//! Staging without committing (`runtime run --stage-only DIR`): the sinks
//! of such a run write their data files under `DIR/<attempt>/<sink>/` and
//! never touch the tables; what they wrote is collected for the attempt's
//! manifest ([`super::manifest`]), from which `runtime commit` makes one
//! commit per table ([`super::commit`]). This is how a distributed run
//! shards one pipeline over several machines and still writes each table
//! exactly once: every task attempt stages under its own name, and only the
//! attempts the driver chooses are committed.
//!
//! Which sinks can stage: Delta tables (files written by delta-rs's writer,
//! with their partition folders, partition values and column statistics,
//! ready to become `add` actions) and Parquet folders (part files the folder
//! sink adopts in its manifest commit). A single Parquet file cannot be
//! assembled from parts: refused before anything runs. An aggregating
//! pipeline stages its splits' partial states instead ([`StateFile`]), and
//! `runtime commit` runs the final merge once over all of them; its sinks
//! must all be fed by that merge.

use super::OpenSink;
use super::error::{Context, SinkError};
use super::manifest::{ATTEMPT_MARKER, StagedFile, StagedSink, StagedStates, now_ms};
use super::parquet::{ParquetFile, properties};
use super::schema::conform;
use super::table::{CommitMeta, Opened, TableWriter};
use crate::config::{SinkFormat, SinkStage};
use crate::prepare::Prepared;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where and as what a `--stage-only` run stages.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTarget {
    /// The staging folder shared by every attempt (`--stage-only DIR`).
    pub dir: PathBuf,
    /// This attempt's name (`--attempt`): its folder under `dir`.
    pub attempt: String,
    /// The distributed run (`--run-id`); by default derived from the
    /// plan's fingerprint ([`default_run_id`]).
    pub run_id: Option<String>,
}

impl StageTarget {
    /// The attempt's own folder.
    pub fn attempt_dir(&self) -> PathBuf {
        self.dir.join(&self.attempt)
    }
}

/// The run id of a distributed run when none is given: the same for every
/// attempt of the same plan, so the attempts of one job, and a job run
/// again over unchanged inputs, are one run (committed once).
pub fn default_run_id(fingerprint: &str) -> String {
    format!("plan-{}", &fingerprint[..fingerprint.len().min(16)])
}

/// Why this pipeline cannot be staged, if it cannot.
pub fn refusal(prepared: &Prepared) -> Option<String> {
    if let Some(s) = prepared.sinks.iter().find(|s| {
        prepared.has_final_phase() && prepared.streams[s.input].phase != crate::prepare::Phase::Final
    }) {
        return Some(format!(
            "--stage-only: this pipeline aggregates, and sinks.{} writes rows of the splits rather than of \
             the final merge; an aggregating pipeline can be staged only when every sink is fed by the \
             merge: run it with `runtime run`, or split it into two pipelines",
            s.stage.name
        ));
    }
    if let Some(s) = prepared.sinks.iter().find(|s| s.stage.format == SinkFormat::ParquetFile) {
        return Some(format!(
            "--stage-only: sinks.{} is a single Parquet file ({}), which cannot be assembled from staged \
             parts; make its path a folder (a Parquet table) or use format = \"delta\"",
            s.stage.name, s.stage.path_as_written
        ));
    }
    if prepared.sinks.is_empty() {
        return Some("--stage-only: the pipeline has no sink, so there is nothing to stage".into());
    }
    None
}

/// What the staging sinks wrote, filled as each finishes.
pub type Collected = Arc<Mutex<Vec<StagedSink>>>;

/// Opens a staging writer per sink under the attempt's folder (which must
/// not exist yet: two attempts never share one). An aggregating pipeline
/// stages no sink: its partial states are staged instead ([`StateFile`]).
pub fn open_staged(
    prepared: &Prepared,
    target: &StageTarget,
    out: &Collected,
) -> Result<Vec<OpenSink>, SinkError> {
    let dir = target.attempt_dir();
    if dir.exists() {
        return Err(SinkError::Refused(format!(
            "--stage-only: {} already exists: attempt `{}` was staged before; give each attempt its own \
             --attempt name",
            dir.display(),
            target.attempt
        )));
    }
    std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(ATTEMPT_MARKER), format!("{}\n", target.attempt))
        .context(|| format!("cannot write {}", dir.join(ATTEMPT_MARKER).display()))?;
    let mut sinks = Vec::new();
    if prepared.has_final_phase() {
        return Ok(sinks);
    }
    for s in &prepared.sinks {
        let schema = prepared.streams[s.input].schema.clone();
        let folder = dir.join(&s.stage.name);
        let writer: Box<dyn TableWriter> = match s.stage.format {
            SinkFormat::Delta => Box::new(StagedDelta::open(&s.stage, schema, &folder, out.clone())?),
            SinkFormat::ParquetDir => Box::new(StagedFolder::open(&s.stage, schema, &folder, out.clone())?),
            SinkFormat::ParquetFile => {
                return Err(SinkError::Refused(refusal(prepared).unwrap_or_default()));
            }
        };
        sinks.push(OpenSink {
            name: s.stage.name.clone(),
            shown: folder.display().to_string(),
            format: s.stage.format.name(),
            writer,
            opened: Opened::default(),
            final_phase: false,
            replaces: false,
            commit_every_splits: None,
            commit_every_bytes: None,
        });
    }
    Ok(sinks)
}

/// A Delta sink's staging writer: delta-rs's writer pointed at the
/// attempt's folder (no log there), whose flush gives the `add` actions.
struct StagedDelta {
    rt: tokio::runtime::Runtime,
    writer: RecordBatchWriter,
    schema: SchemaRef,
    name: String,
    folder: PathBuf,
    out: Collected,
}

impl StagedDelta {
    fn open(stage: &SinkStage, schema: SchemaRef, folder: &Path, out: Collected) -> Result<Self, SinkError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context(|| "cannot start the Delta I/O runtime".into())?;
        std::fs::create_dir_all(folder).context(|| format!("cannot create {}", folder.display()))?;
        let abs = folder.canonicalize().context(|| folder.display().to_string())?;
        let url = url::Url::from_directory_path(&abs)
            .map_err(|_| SinkError::Refused(format!("{} is not a usable path", abs.display())))?;
        // The schema the table gets (dictionaries as their values).
        let delta = super::delta::delta_schema(&schema)?;
        let schema: SchemaRef = Arc::new(
            (&delta).try_into_arrow().context(|| "the output schema cannot be stored in Delta".into())?,
        );
        let partitions = stage.table.partition_by.clone();
        let writer = rt
            .block_on(async {
                RecordBatchWriter::try_new(url.as_str(), schema.clone(), Some(partitions), None)
            })
            .context(|| format!("cannot stage Delta files in {}", folder.display()))?
            .with_writer_properties(properties(stage))
            .with_target_file_size(stage.table.target_file_size);
        Ok(StagedDelta { rt, writer, schema, name: stage.name.clone(), folder: folder.to_path_buf(), out })
    }
}

impl TableWriter for StagedDelta {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let batch = conform(batch, &self.schema)?;
        self.rt.block_on(self.writer.write(batch)).context(|| "writing staged Delta data files".into())
    }

    fn pending_bytes(&self) -> u64 {
        self.writer.buffer_len() as u64
    }

    fn commit(&mut self, meta: &CommitMeta) -> Result<Option<i64>, SinkError> {
        let adds =
            self.rt.block_on(self.writer.flush()).context(|| "finishing staged Delta data files".into())?;
        let files: Vec<StagedFile> = adds
            .into_iter()
            .map(|a| {
                let stats: Option<serde_json::Value> =
                    a.stats.as_deref().and_then(|s| serde_json::from_str(s).ok());
                let rows = stats.as_ref().and_then(|s| s.get("numRecords")?.as_u64()).unwrap_or(0);
                StagedFile {
                    path: a.path,
                    bytes: a.size.max(0) as u64,
                    rows,
                    partition_values: a.partition_values.into_iter().collect(),
                    stats,
                    modification_time_ms: a.modification_time,
                }
            })
            .collect();
        collect(&self.out, &self.name, "delta", files, meta);
        Ok(None)
    }

    fn abort(&mut self) {
        self.writer.reset();
        let _ = std::fs::remove_dir_all(&self.folder);
    }

    fn can_commit_early(&self) -> bool {
        false
    }
}

/// Adds a finished sink's files to what the attempt staged.
fn collect(out: &Collected, name: &str, format: &str, files: Vec<StagedFile>, meta: &CommitMeta) {
    let mut all = out.lock().unwrap();
    let sink = match all.iter_mut().position(|s| s.name == name) {
        Some(i) => &mut all[i],
        None => {
            all.push(StagedSink {
                name: name.into(),
                format: format.into(),
                files: Vec::new(),
                rows: 0,
                bytes: 0,
            });
            all.last_mut().expect("pushed above")
        }
    };
    sink.rows += meta.rows;
    sink.bytes += files.iter().map(|f| f.bytes).sum::<u64>();
    sink.files.extend(files);
}

/// A Parquet folder's staging writer: part files in the attempt's folder,
/// rolled at `target_file_size`.
struct StagedFolder {
    folder: PathBuf,
    schema: SchemaRef,
    props: parquet::file::properties::WriterProperties,
    target_file_size: u64,
    current: Option<ParquetFile>,
    files: Vec<StagedFile>,
    name: String,
    out: Collected,
}

impl StagedFolder {
    fn open(stage: &SinkStage, schema: SchemaRef, folder: &Path, out: Collected) -> Result<Self, SinkError> {
        std::fs::create_dir_all(folder).context(|| format!("cannot create {}", folder.display()))?;
        Ok(StagedFolder {
            folder: folder.to_path_buf(),
            schema,
            props: properties(stage),
            target_file_size: stage.table.target_file_size,
            current: None,
            files: Vec::new(),
            name: stage.name.clone(),
            out,
        })
    }

    fn roll(&mut self) -> Result<(), SinkError> {
        let Some(f) = self.current.take() else { return Ok(()) };
        if f.rows == 0 {
            f.abort();
            return Ok(());
        }
        let closed = f.close()?;
        closed.publish()?;
        self.files.push(StagedFile {
            path: closed.path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
            bytes: closed.size,
            rows: closed.rows,
            partition_values: Default::default(),
            stats: None,
            modification_time_ms: now_ms(),
        });
        Ok(())
    }
}

impl TableWriter for StagedFolder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        if self.current.is_none() {
            let name = format!("part-{:05}.parquet", self.files.len() + 1);
            let path = self.folder.join(name);
            self.current = Some(ParquetFile::create(&path, self.schema.clone(), self.props.clone())?);
        }
        let batch = conform(batch, &self.schema)?;
        let f = self.current.as_mut().expect("opened above");
        f.write(&batch)?;
        if f.size() >= self.target_file_size {
            self.roll()?;
        }
        Ok(())
    }

    fn pending_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum::<u64>() + self.current.as_ref().map_or(0, |f| f.size())
    }

    fn commit(&mut self, meta: &CommitMeta) -> Result<Option<i64>, SinkError> {
        self.roll()?;
        collect(&self.out, &self.name, "parquet", std::mem::take(&mut self.files), meta);
        Ok(None)
    }

    fn abort(&mut self) {
        if let Some(f) = self.current.take() {
            f.abort();
        }
        let _ = std::fs::remove_dir_all(&self.folder);
    }

    fn can_commit_early(&self) -> bool {
        false
    }
}

/// The file of an attempt's partial aggregation states (see
/// [`StagedStates`]), written as the splits send them.
pub struct StateFile {
    path: PathBuf,
    writer: arrow_ipc::writer::FileWriter<std::io::BufWriter<std::fs::File>>,
    states: u64,
}

/// The states file's name in the attempt's folder.
pub const STATES_FILE: &str = "_states.arrow";

fn states_schema() -> SchemaRef {
    use arrow_schema::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("transform", DataType::UInt32, false),
        Field::new("state", DataType::LargeBinary, false),
    ]))
}

impl StateFile {
    pub fn create(target: &StageTarget) -> Result<StateFile, SinkError> {
        let path = target.attempt_dir().join(STATES_FILE);
        let file = std::fs::File::create(&path).context(|| format!("cannot create {}", path.display()))?;
        let writer = arrow_ipc::writer::FileWriter::try_new(std::io::BufWriter::new(file), &states_schema())
            .context(|| format!("cannot start {}", path.display()))?;
        Ok(StateFile { path, writer, states: 0 })
    }

    /// Appends one split's states (by transform).
    pub fn append(&mut self, states: &[(usize, Vec<Vec<u8>>)]) -> Result<(), SinkError> {
        use arrow_array::{LargeBinaryArray, UInt32Array};
        let transforms: Vec<u32> =
            states.iter().flat_map(|(t, list)| std::iter::repeat_n(*t as u32, list.len())).collect();
        let values: Vec<&[u8]> = states.iter().flat_map(|(_, list)| list.iter().map(Vec::as_slice)).collect();
        let batch = RecordBatch::try_new(
            states_schema(),
            vec![Arc::new(UInt32Array::from(transforms)), Arc::new(LargeBinaryArray::from(values))],
        )
        .context(|| "encoding partial states".into())?;
        self.states += batch.num_rows() as u64;
        self.writer.write(&batch).context(|| format!("writing {}", self.path.display()))
    }

    /// Finishes the file (durable); what the manifest says of it.
    pub fn finish(mut self) -> Result<StagedStates, SinkError> {
        self.writer.finish().context(|| format!("finishing {}", self.path.display()))?;
        let file = self.writer.into_inner().context(|| format!("finishing {}", self.path.display()))?;
        let file = file.into_inner().context(|| format!("finishing {}", self.path.display()))?;
        file.sync_all().context(|| format!("syncing {}", self.path.display()))?;
        let bytes = file.metadata().map_or(0, |m| m.len());
        Ok(StagedStates { path: STATES_FILE.into(), bytes, states: self.states })
    }
}

/// Reads a states file back: each row's transform and state, in order.
pub fn read_states(path: &Path) -> Result<Vec<(usize, Vec<u8>)>, SinkError> {
    use arrow_array::cast::AsArray;
    let file = std::fs::File::open(path).context(|| format!("cannot open {}", path.display()))?;
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::BufReader::new(file), None)
        .context(|| format!("{} is not a states file", path.display()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.context(|| format!("reading {}", path.display()))?;
        if batch.schema() != states_schema() {
            return Err(SinkError::Refused(format!("{} is not a states file", path.display())));
        }
        let t = batch.column(0).as_primitive::<arrow_array::types::UInt32Type>();
        let s = batch.column(1).as_binary::<i64>();
        out.extend((0..batch.num_rows()).map(|i| (t.value(i) as usize, s.value(i).to_vec())));
    }
    Ok(out)
}
