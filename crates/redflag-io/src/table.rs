//! Reading a plain table (CSV with a header, or Parquet) as Arrow batches: for feature tables
//! and score files, not for transactions (those go through [`crate::ingest`]).

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format as CsvFormat;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};

/// Reads a whole table: Parquet by its extension, else CSV with a header (column types
/// inferred from the first 10,000 rows).
pub fn read_table(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| Error::format(path, format!("cannot read as Parquet ({e})")))?;
        let schema = builder.schema().clone();
        let reader = builder
            .with_batch_size(1 << 16)
            .build()
            .map_err(|e| Error::format(path, e.to_string()))?;
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::format(path, e.to_string()))?;
        return Ok((schema, batches));
    }
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
