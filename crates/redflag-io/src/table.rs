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
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Reads a whole table: Parquet by its extension, else CSV with a header (column types
/// inferred from the first 10,000 rows).
pub fn read_table(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| Error::format(path, format!("cannot read as Parquet ({e})")))?;
        let schema = meta.schema().clone();
        // Row groups in parallel, batches kept in file order.
        let groups: Vec<Vec<RecordBatch>> = (0..meta.metadata().num_row_groups())
            .into_par_iter()
            .map(|rg| {
                let f = File::open(path).map_err(|e| Error::io(path, e))?;
                ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
                    .with_row_groups(vec![rg])
                    .with_batch_size(1 << 16)
                    .build()
                    .map_err(|e| Error::format(path, e.to_string()))?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::format(path, format!("row group {rg}: {e}")))
            })
            .collect::<Result<_>>()?;
        return Ok((schema, groups.into_iter().flatten().collect()));
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
