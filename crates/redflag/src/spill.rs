//! The accepted transactions on disk, for a run under a memory limit
//! ([`Engine::memory_limit`](crate::Engine::memory_limit)).
//!
//! Ingest hands each accepted batch over as soon as it is accepted; its columns are appended to
//! Arrow IPC streams (one per column) in a directory of its own and the batch is let go, so the
//! accepted table is never whole in memory. The feature pass then reads the file in passes ([`BatchSource`]), each pass only the
//! columns it needs. The directory is removed when the [`SpillFile`] is dropped, whether the
//! run succeeded or not.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use redflag_features::BatchSource;

use crate::{Error, Result};

/// Batches read per round of a pass (each round's batches are packed in parallel).
fn round_size() -> usize {
    2 * rayon::current_num_threads().max(1)
}

/// The spill while ingest writes it.
pub(crate) struct Spill {
    file: SpillFile,
    /// One stream per column of the run's schema.
    writers: Vec<StreamWriter<BufWriter<File>>>,
}

/// Creates a new directory under `parent` named `{prefix}-{process}-{time}-{count}`, unique to
/// this call even when runs in one process start together.
pub(crate) fn scratch_dir(parent: &Path, prefix: &str) -> Result<PathBuf> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = parent.join(format!("{prefix}-{}-{nanos}-{count}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Output(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

impl Spill {
    /// A new spill directory under `parent`.
    pub fn create(parent: &Path) -> Result<Spill> {
        let dir = scratch_dir(parent, ".redflag-spill")?;
        Ok(Spill {
            file: SpillFile {
                dir,
                schema: None,
                rows: 0,
            },
            writers: Vec::new(),
        })
    }

    /// Appends one accepted batch (all have the run's `schema`).
    pub fn accept(&mut self, schema: &SchemaRef, batch: RecordBatch) -> redflag_io::Result<()> {
        if self.file.schema.is_none() {
            for (i, field) in schema.fields().iter().enumerate() {
                let path = self.file.column_path(i);
                let out =
                    File::create(&path).map_err(|source| redflag_io::Error::Io { path, source })?;
                let one = Schema::new(vec![field.clone()]);
                self.writers.push(StreamWriter::try_new(
                    BufWriter::with_capacity(1 << 20, out),
                    &one,
                )?);
            }
            self.file.schema = Some(schema.clone());
        }
        self.file.rows += batch.num_rows();
        for (i, w) in self.writers.iter_mut().enumerate() {
            w.write(&batch.project(&[i])?)?;
        }
        Ok(())
    }

    /// Closes the files for reading.
    pub fn finish(mut self) -> Result<SpillFile> {
        for mut w in std::mem::take(&mut self.writers) {
            w.finish().map_err(|e| self.file.error(e))?;
            w.into_inner()
                .map_err(|e| self.file.error(e))?
                .into_inner()
                .map_err(|e| self.file.error(e.into_error()))?
                .sync_all()
                .map_err(|e| self.file.error(e))?;
        }
        Ok(self.file)
    }
}

/// The accepted table on disk, one Arrow IPC stream per column, so that a pass reads (and
/// holds) only the columns it asks for; the directory goes when this is dropped.
pub(crate) struct SpillFile {
    dir: PathBuf,
    /// The run's schema (`None` when nothing was accepted).
    schema: Option<SchemaRef>,
    rows: usize,
}

/// Reads the spilled columns of a projection batch by batch, in step.
struct Columns {
    schema: SchemaRef,
    readers: Vec<StreamReader<BufReader<File>>>,
}

impl Iterator for Columns {
    type Item = redflag_features::Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut columns = Vec::with_capacity(self.readers.len());
        for r in &mut self.readers {
            match r.next()? {
                Ok(b) => columns.push(b.column(0).clone()),
                Err(e) => return Some(Err(e.into())),
            }
        }
        Some(RecordBatch::try_new(self.schema.clone(), columns).map_err(Into::into))
    }
}

impl SpillFile {
    /// Accepted transactions in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn column_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("column-{i}.arrows"))
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Output(format!("spill {}: {e}", self.dir.display()))
    }

    /// The batches' `columns` (those the table has); `None` when it has none of them (a pass
    /// over absent columns reads nothing).
    fn reader(&self, columns: &[&str]) -> redflag_features::Result<Option<Columns>> {
        let Some(schema) = &self.schema else {
            return Ok(None);
        };
        let mut picked: Vec<usize> = columns
            .iter()
            .filter_map(|c| schema.index_of(c).ok())
            .collect();
        picked.sort_unstable();
        picked.dedup();
        if picked.is_empty() {
            return Ok(None);
        }
        let readers = picked
            .iter()
            .map(|&i| {
                let path = self.column_path(i);
                let source = |e: &dyn std::fmt::Display| {
                    redflag_features::Error::Source(format!("spill {}: {e}", path.display()))
                };
                let file = File::open(&path).map_err(|e| source(&e))?;
                StreamReader::try_new(BufReader::with_capacity(1 << 20, file), None)
                    .map_err(|e| source(&e))
            })
            .collect::<redflag_features::Result<_>>()?;
        Ok(Some(Columns {
            schema: Arc::new(schema.project(&picked)?),
            readers,
        }))
    }
}

impl BatchSource for SpillFile {
    fn load(&self, columns: &[&str]) -> redflag_features::Result<Vec<RecordBatch>> {
        match self.reader(columns)? {
            Some(reader) => reader.collect(),
            None => Ok(Vec::new()),
        }
    }

    fn scan(
        &self,
        columns: &[&str],
        each: &mut dyn FnMut(Vec<RecordBatch>) -> redflag_features::Result<()>,
    ) -> redflag_features::Result<()> {
        let Some(mut reader) = self.reader(columns)? else {
            return Ok(());
        };
        let k = round_size();
        loop {
            let round: Vec<RecordBatch> = reader
                .by_ref()
                .take(k)
                .collect::<redflag_features::Result<_>>()?;
            if round.is_empty() {
                return Ok(());
            }
            each(round)?;
        }
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
