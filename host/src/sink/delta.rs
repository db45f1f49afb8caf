//! A Delta Lake sink (the `deltalake` crate).
//!
//! Data files are written by delta-rs's `RecordBatchWriter` (partitioning,
//! file statistics, rolling at `target_file_size`); they are invisible until
//! a commit. Each commit is built here with `CommitBuilder`: the `add`
//! actions of the files written since the last commit (and, for
//! `mode = "overwrite"`, `remove` actions for every file the table had), an
//! application transaction (`txn`: the pipeline's `app_id` and a version
//! that grows by one per commit), and, in commitInfo, under `runtime`, the
//! run id and the splits the commit covers. Delta's optimistic concurrency
//! makes a concurrent writer either commit too (blind appends do not
//! conflict) or fail cleanly.
//!
//! On opening, the table is created if missing (version 0, schema from the
//! pipeline), its schema is checked against the pipeline's before anything
//! is written, and its history tells which splits earlier runs committed.

use super::error::{Context, SinkError};
use super::manifest::StagedFile;
use super::schema::{conform, reconcile};
use super::table::{CommitMeta, Opened, RecordedCommit, RunIdentity, TableWriter, place_staged, plan_skips};
use crate::config::{SinkStage, TableSettings, WriteMode};
use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, StructType, Transaction};
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::TryStreamExt;
use std::future::IntoFuture;
use std::sync::Arc;

pub struct DeltaSink {
    rt: tokio::runtime::Runtime,
    table: DeltaTable,
    writer: RecordBatchWriter,
    settings: TableSettings,
    /// The table's schema (batches are cast to it).
    schema: SchemaRef,
    /// Overwrite: the first commit removes every existing file.
    replace: bool,
    txn_version: i64,
    /// Staged files taken by `runtime commit`, for the next commit.
    adopted: Vec<deltalake::kernel::Add>,
    /// The table's folder, where adopted files go.
    root: url::Url,
}

impl DeltaSink {
    pub fn open(
        stage: &SinkStage,
        schema: SchemaRef,
        run: &RunIdentity,
    ) -> Result<(Self, Opened), SinkError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context(|| "cannot start the Delta I/O runtime".into())?;
        let path = &stage.path;
        std::fs::create_dir_all(path).context(|| format!("cannot create {}", path.display()))?;
        let abs = path.canonicalize().context(|| path.display().to_string())?;
        let url = url::Url::from_directory_path(&abs)
            .map_err(|_| SinkError::Refused(format!("{} is not a usable path", abs.display())))?;
        let shown = stage.path_as_written.clone();
        let table_schema = delta_schema(&schema)?;
        let settings = stage.table.clone();

        // A folder without a log is a new table (loading it would only fail).
        let load = || rt.block_on(async { DeltaTableBuilder::from_url(url.clone())?.load().await });
        let loaded = if abs.join("_delta_log").is_dir() {
            load()
        } else {
            Err(DeltaTableError::NotATable(shown.clone()))
        };
        let (table, existed) = match loaded {
            Ok(t) => (t, true),
            Err(DeltaTableError::NotATable(_)) => {
                let fields: Vec<_> = table_schema.fields().cloned().collect();
                let create = CreateBuilder::new()
                    .with_location(url.to_string())
                    .with_table_name(stage.name.clone())
                    .with_columns(fields)
                    .with_partition_columns(settings.partition_by.clone())
                    .with_save_mode(SaveMode::ErrorIfExists)
                    // Two drivers creating the table at the same moment: the
                    // loser's creation is not retried on top of the winner's
                    // (which would leave a second, empty version); it loads
                    // the table the winner made instead.
                    .with_commit_properties(CommitProperties::default().with_max_retries(0));
                match rt.block_on(create.into_future()) {
                    Ok(t) => (t, false),
                    Err(_) if abs.join("_delta_log").join(format!("{:020}.json", 0)).is_file() => {
                        (load().context(|| format!("opening the Delta table {shown}"))?, true)
                    }
                    Err(e) => return Err(e).context(|| format!("creating the Delta table {shown}")),
                }
            }
            Err(e) => return Err(e).context(|| format!("opening the Delta table {shown}")),
        };
        let mut table = table;
        let current: Schema = table
            .snapshot()
            .context(|| shown.clone())?
            .schema()
            .as_ref()
            .try_into_arrow()
            .context(|| shown.clone())?;
        if existed {
            let snapshot = table.snapshot().context(|| shown.clone())?;
            let partitions = snapshot.metadata().partition_columns();
            if !settings.partition_by.is_empty() && partitions != settings.partition_by {
                return Err(SinkError::Mismatch(format!(
                    "the Delta table {shown} is partitioned by [{}], the pipeline asks for [{}]",
                    partitions.join(", "),
                    settings.partition_by.join(", ")
                )));
            }
            let ours: Schema = (&table_schema).try_into_arrow().context(|| shown.clone())?;
            if let Some(merged) = reconcile(&current, &ours, settings.add_columns).map_err(|e| {
                SinkError::Mismatch(format!("the Delta table {shown} does not fit this pipeline: {e}"))
            })? {
                // Opted in: add the new (nullable) columns before writing.
                let wider: StructType = merged.as_ref().try_into_kernel().context(|| shown.clone())?;
                let new: Vec<_> =
                    wider.fields().filter(|f| current.field_with_name(f.name()).is_err()).cloned().collect();
                table = rt
                    .block_on(table.add_columns().with_fields(new).into_future())
                    .context(|| format!("adding columns to {shown}"))?;
            }
        }
        let snapshot = table.snapshot().context(|| shown.clone())?;
        let schema: SchemaRef =
            Arc::new(snapshot.schema().as_ref().try_into_arrow().context(|| shown.clone())?);

        // Earlier commits of this pipeline, from the table's history.
        let history: Vec<deltalake::kernel::CommitInfo> = rt
            .block_on(table.history(None).try_collect())
            .context(|| format!("reading the history of {shown}"))?;
        let latest = table.version().unwrap_or(0) as i64;
        let commits: Vec<RecordedCommit> = history
            .iter()
            .enumerate()
            .filter_map(|(i, info)| {
                // `history` is newest first; versions count down from the latest.
                let version = latest - i as i64;
                RecordedCommit::from_json(version, &settings.app_id, info.info.get("runtime")?)
            })
            .collect();
        let mut opened = plan_skips(&commits, run.resume, settings.skip_committed);
        opened.version = table.version().map(|v| v as i64);
        let txn_version = rt
            .block_on(snapshot.transaction_version(table.log_store().as_ref(), settings.app_id.clone()))
            .context(|| shown.clone())?
            .unwrap_or(-1);

        let writer = RecordBatchWriter::for_table(&table)
            .context(|| shown.clone())?
            .with_writer_properties(super::parquet::properties(stage))
            .with_target_file_size(settings.target_file_size);
        let replace = settings.mode == WriteMode::Overwrite;
        let sink = DeltaSink {
            rt,
            table,
            writer,
            settings,
            schema,
            replace,
            txn_version,
            adopted: Vec::new(),
            root: url,
        };
        Ok((sink, opened))
    }
}

/// The Delta schema for the pipeline's Arrow schema (dictionaries become
/// their value type; Delta has no dictionary type).
pub(super) fn delta_schema(schema: &Schema) -> Result<StructType, SinkError> {
    let plain = Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                arrow_schema::DataType::Dictionary(_, v) => f.as_ref().clone().with_data_type((**v).clone()),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    );
    (&plain).try_into_kernel().context(|| "the output schema cannot be stored in Delta".into())
}

impl TableWriter for DeltaSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let batch = conform(batch, &self.schema)?;
        self.rt.block_on(self.writer.write(batch)).context(|| "writing Delta data files".into())
    }

    fn pending_bytes(&self) -> u64 {
        self.writer.buffer_len() as u64
    }

    fn commit(&mut self, meta: &CommitMeta) -> Result<Option<i64>, SinkError> {
        let mut adds =
            self.rt.block_on(self.writer.flush()).context(|| "finishing Delta data files".into())?;
        adds.append(&mut self.adopted);
        if adds.is_empty() && !meta.complete && !self.replace {
            return Ok(None);
        }
        let snapshot = self.table.snapshot().context(|| "reading the Delta table's snapshot".into())?;
        let mut actions: Vec<Action> = Vec::new();
        let mode = if std::mem::take(&mut self.replace) {
            actions
                .extend(snapshot.snapshot().log_data().iter().map(|f| Action::Remove(f.remove_action(true))));
            SaveMode::Overwrite
        } else {
            SaveMode::Append
        };
        actions.extend(adds.into_iter().map(Action::Add));
        self.txn_version += 1;
        let props = CommitProperties::default()
            .with_application_transaction(Transaction::new(&self.settings.app_id, self.txn_version))
            .with_metadata([("runtime".to_string(), meta.to_json(&self.settings.app_id))]);
        let operation = DeltaOperation::Write {
            mode,
            partition_by: (!self.settings.partition_by.is_empty())
                .then(|| self.settings.partition_by.clone()),
            predicate: None,
        };
        let log_store = self.table.log_store();
        let committed = self
            .rt
            .block_on(async {
                CommitBuilder::from(props).with_actions(actions).build(Some(snapshot), log_store, operation).await
            })
            .map_err(|e| match e {
                DeltaTableError::Transaction { source } => SinkError::Refused(format!(
                    "a concurrent writer changed the Delta table and the commit conflicts: {source}; nothing of this commit was written"
                )),
                e => SinkError::Failed { context: "committing to the Delta table".into(), cause: e.into() },
            })?;
        let version = committed.version();
        self.rt.block_on(self.table.update_state()).context(|| "reloading the Delta table".into())?;
        Ok(Some(version as i64))
    }

    fn abort(&mut self) {
        // Files written since the last commit stay unreferenced (a later
        // VACUUM removes them); readers never see them.
        self.writer.reset();
        self.adopted.clear();
    }

    fn adopt(&mut self, source: &std::path::Path, file: &StagedFile) -> Result<(), SinkError> {
        // The file keeps its path relative to the table's root (partition
        // folders included); delta-rs names files uniquely.
        let dest = self
            .root
            .join(&file.path)
            .ok()
            .filter(|u| u.as_str().starts_with(self.root.as_str()))
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| {
                SinkError::Refused(format!("the staged file path `{}` is not usable", file.path))
            })?;
        place_staged(source, &dest, file.bytes)?;
        self.adopted.push(deltalake::kernel::Add {
            path: file.path.clone(),
            partition_values: file.partition_values.clone().into_iter().collect(),
            size: file.bytes as i64,
            modification_time: file.modification_time_ms,
            data_change: true,
            stats: file.stats.as_ref().map(|s| s.to_string()),
            ..Default::default()
        });
        Ok(())
    }

    fn keep_existing(&mut self) {
        self.replace = false;
    }
}
