//! The accepted transactions on disk, for a run under a memory limit
//! ([`Engine::memory_limit`](crate::Engine::memory_limit)).
//!
//! Ingest hands each accepted batch over as soon as it is accepted; it is appended to an Arrow
//! IPC stream in a directory of its own and let go, so the accepted table is never whole in
//! memory. The feature pass then reads the file in passes ([`BatchSource`]), each pass only the
//! columns it needs. The directory is removed when the [`SpillFile`] is dropped, whether the
//! run succeeded or not.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use redflag_features::BatchSource;

use crate::{Error, Result};

/// Batches read per round of a pass (each round's batches are packed in parallel).
fn round_size() -> usize {
    2 * rayon::current_num_threads().max(1)
}

/// The spill file while ingest writes it.
pub(crate) struct Spill {
    file: SpillFile,
    writer: Option<StreamWriter<BufWriter<File>>>,
}

impl Spill {
    /// A new spill directory under `parent`.
    pub fn create(parent: &Path) -> Result<Spill> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = parent.join(format!(".redflag-spill-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Output(format!("{}: {e}", dir.display())))?;
        Ok(Spill {
            file: SpillFile {
                path: dir.join("accepted.arrows"),
                dir,
                schema: None,
                rows: 0,
            },
            writer: None,
        })
    }

    /// Appends one accepted batch (all have the run's `schema`).
    pub fn accept(&mut self, schema: &SchemaRef, batch: RecordBatch) -> redflag_io::Result<()> {
        let io = |e: std::io::Error| redflag_io::Error::Io {
            path: self.file.path.clone(),
            source: e,
        };
        if self.writer.is_none() {
            let out = File::create(&self.file.path).map_err(io)?;
            self.writer = Some(StreamWriter::try_new(
                BufWriter::with_capacity(1 << 20, out),
                schema,
            )?);
            self.file.schema = Some(schema.clone());
        }
        self.file.rows += batch.num_rows();
        if let Some(w) = &mut self.writer {
            w.write(&batch)?;
        }
        Ok(())
    }

    /// Closes the file for reading.
    pub fn finish(mut self) -> Result<SpillFile> {
        if let Some(mut w) = self.writer.take() {
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

/// The accepted table on disk, read in passes; its directory goes when this is dropped.
pub(crate) struct SpillFile {
    dir: PathBuf,
    path: PathBuf,
    /// The run's schema (`None` when nothing was accepted).
    schema: Option<SchemaRef>,
    rows: usize,
}

impl SpillFile {
    /// Accepted transactions in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Output(format!("spill file {}: {e}", self.path.display()))
    }

    /// A reader of the `columns` the file has; `None` when it has none of them (nothing to
    /// read: a pass over an absent column reads nothing).
    fn reader(
        &self,
        columns: &[&str],
    ) -> redflag_features::Result<Option<StreamReader<BufReader<File>>>> {
        let Some(schema) = &self.schema else {
            return Ok(None);
        };
        let projection: Vec<usize> = columns
            .iter()
            .filter_map(|c| schema.index_of(c).ok())
            .collect();
        if projection.is_empty() {
            return Ok(None);
        }
        let source = |e: &dyn std::fmt::Display| {
            redflag_features::Error::Source(format!("spill file {}: {e}", self.path.display()))
        };
        let file = File::open(&self.path).map_err(|e| source(&e))?;
        StreamReader::try_new(BufReader::with_capacity(1 << 20, file), Some(projection))
            .map(Some)
            .map_err(|e| source(&e))
    }
}

impl BatchSource for SpillFile {
    fn load(&self, columns: &[&str]) -> redflag_features::Result<Vec<RecordBatch>> {
        let Some(reader) = self.reader(columns)? else {
            return Ok(Vec::new());
        };
        Ok(reader.collect::<std::result::Result<_, _>>()?)
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
                .collect::<std::result::Result<_, _>>()?;
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
