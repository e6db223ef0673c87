//! Reading a plain table (CSV with a header, or Parquet) as Arrow batches: for feature tables
//! and score files, not for transactions (those go through [`crate::ingest`]).

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format as CsvFormat;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// A Parquet table read row group by row group, so that a caller can use each group as it is
/// decoded instead of holding the whole table as Arrow arrays.
pub struct ParquetTable {
    path: PathBuf,
    meta: ArrowReaderMetadata,
}

impl ParquetTable {
    /// Opens `path` when its extension says Parquet (`.parquet`, `.pq`); `None` otherwise.
    pub fn open(path: &Path) -> Result<Option<Self>> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if !(name.ends_with(".parquet") || name.ends_with(".pq")) {
            return Ok(None);
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| Error::format(path, format!("cannot read as Parquet ({e})")))?;
        Ok(Some(Self {
            path: path.to_owned(),
            meta,
        }))
    }

    /// The table's schema.
    pub fn schema(&self) -> SchemaRef {
        self.meta.schema().clone()
    }

    /// Rows in each row group, in file order.
    pub fn group_rows(&self) -> Vec<usize> {
        self.meta
            .metadata()
            .row_groups()
            .iter()
            .map(|g| usize::try_from(g.num_rows()).unwrap_or(0))
            .collect()
    }

    /// The batches of row group `rg`, in order.
    pub fn read_group(&self, rg: usize) -> Result<Vec<RecordBatch>> {
        let path = &self.path;
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        ParquetRecordBatchReaderBuilder::new_with_metadata(f, self.meta.clone())
            .with_row_groups(vec![rg])
            .with_batch_size(1 << 16)
            .build()
            .map_err(|e| Error::format(path, e.to_string()))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::format(path, format!("row group {rg}: {e}")))
    }
}

/// Reads a whole table: Parquet by its extension, else CSV with a header (column types
/// inferred from the first 10,000 rows).
pub fn read_table(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    if let Some(table) = ParquetTable::open(path)? {
        // Row groups in parallel, batches kept in file order.
        let groups: Vec<Vec<RecordBatch>> = (0..table.group_rows().len())
            .into_par_iter()
            .map(|rg| table.read_group(rg))
            .collect::<Result<_>>()?;
        return Ok((table.schema(), groups.into_iter().flatten().collect()));
    }
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let format = CsvFormat::default().with_header(true);
    let (schema, _) = format
        .infer_schema(BufReader::new(&mut file), Some(10_000))
        .map_err(|e| Error::format(path, format!("cannot read as CSV ({e})")))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let schema = Arc::new(schema);
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(format)
        .with_batch_size(1 << 16)
        .build(BufReader::with_capacity(1 << 20, file))
        .map_err(|e| Error::format(path, e.to_string()))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::format(
                path,
                format!("{e}; expected the types of the first 10,000 rows"),
            )
        })?;
    Ok((schema, batches))
}
