//! Parquet: schema as header, and row groups read in parallel into raw chunks.

use std::fs::File;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use redflag_schema::text_type;

use crate::chunk::{ChunkResult, Lines, Origin};
use crate::convert::{Converter, RawChunk};
use crate::error::{Error, Result};
use crate::plan::{FilePlan, Source};

/// Rows per batch read from a row group.
const BATCH_ROWS: usize = 1 << 16;

/// An opened Parquet file: its metadata and column names.
pub(crate) struct ParquetFile {
    pub metadata: ArrowReaderMetadata,
    pub header: Vec<String>,
}

impl ParquetFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let metadata =
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| {
                Error::format(
                    path,
                    format!("cannot read as Parquet ({e}); expected a Parquet file"),
                )
            })?;
        let header = metadata
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        Ok(Self { metadata, header })
    }

    /// The metadata to read with for `plan`: string columns that feed only dictionary-typed
    /// canonical columns (text, codes, enums) are read as dictionaries, so that a column chunk's
    /// dictionary page is kept rather than expanded into one string per row.
    pub fn reading(&self, plan: &FilePlan) -> Result<ArrowReaderMetadata> {
        let schema = self.metadata.schema();
        let mut hinted = false;
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(idx, field)| {
                let uses: Vec<DataType> = plan
                    .sources
                    .iter()
                    .filter_map(|(c, s)| match s {
                        Source::Field { slot, .. } if plan.slots[*slot] == idx => {
                            Some(c.data_type())
                        }
                        _ => None,
                    })
                    .collect();
                let stringy = matches!(
                    field.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                );
                let all_dict = !uses.is_empty()
                    && uses.iter().all(|t| matches!(t, DataType::Dictionary(_, _)));
                if stringy && all_dict {
                    hinted = true;
                    field.as_ref().clone().with_data_type(text_type())
                } else {
                    field.as_ref().clone()
                }
            })
            .collect();
        if !hinted {
            return Ok(self.metadata.clone());
        }
        let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new_with_metadata(
            fields,
            schema.metadata().clone(),
        )));
        ArrowReaderMetadata::try_new(self.metadata.metadata().clone(), options)
            .map_err(|e| Error::format(&plan.path, format!("cannot read as Parquet ({e})")))
    }

    pub fn row_groups(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }

    /// The 1-based row number of the first row of each row group.
    pub fn first_rows(&self) -> Vec<u64> {
        let mut next = 1u64;
        self.metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| {
                let first = next;
                next += rg.num_rows() as u64;
                first
            })
            .collect()
    }
}

/// Reads one row group and converts it, batch by batch.
pub(crate) fn convert_row_group<S: BuildHasher>(
    metadata: &ArrowReaderMetadata,
    row_group: usize,
    first_row: u64,
    conv: &Converter<'_>,
    hasher: &S,
) -> Result<Vec<ChunkResult>> {
    let plan = conv.plan;
    let path = &plan.path;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mask = ProjectionMask::roots(metadata.parquet_schema(), plan.slots.iter().copied());
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
        .with_row_groups(vec![row_group])
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| Error::format(path, format!("row group {row_group}: {e}")))?;
    let mut out = Vec::new();
    let mut next_row = first_row;
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| {
            Error::format(path, format!("row group {row_group}: cannot decode: {e}"))
        })?;
        let n = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(plan.slots.len());
        for name in &plan.slot_names {
            let col = batch.column_by_name(name).ok_or_else(|| {
                Error::format(
                    path,
                    format!("column {name:?} vanished from row group {row_group}"),
                )
            })?;
            columns.push(normalize_strings(col)?);
        }
        let lines = Lines::From { first: next_row, n };
        next_row += n as u64;
        let raw = RawChunk {
            columns,
            num_rows: n,
            lines,
        };
        let converted = conv.convert(&raw)?;
        out.push(ChunkResult::new(
            converted,
            raw.lines,
            Origin::Arrow(batch),
            Vec::new(),
            0,
            hasher,
        ));
    }
    Ok(out)
}

/// Plain string columns as `Utf8`; others (dictionaries included) as they are.
fn normalize_strings(col: &ArrayRef) -> Result<ArrayRef> {
    Ok(match col.data_type() {
        DataType::LargeUtf8 | DataType::Utf8View => cast(col, &DataType::Utf8)?,
        _ => col.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::MappingProfile;

    #[test]
    fn text_and_enum_columns_are_read_as_dictionaries_identifiers_as_strings() {
        // The crate's directory as cargo gives it at run time (not baked in at build time).
        let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("tests run under cargo");
        let path = Path::new(&dir).join("../../sample-data/transactions.parquet");
        let pf = ParquetFile::open(&path).expect("open");
        let plan =
            FilePlan::resolve(&path, &pf.header, &MappingProfile::canonical()).expect("plan");
        let reading = pf.reading(&plan).expect("metadata");
        let ty = |name: &str| {
            reading
                .schema()
                .field_with_name(name)
                .expect("field")
                .data_type()
                .clone()
        };
        for name in [
            "currency",
            "channel",
            "merchant_name",
            "geo_city",
            "device_id",
        ] {
            assert_eq!(ty(name), text_type(), "{name}");
        }
        for name in ["txn_id", "sender_id", "receiver_id"] {
            assert_eq!(ty(name), DataType::Utf8, "{name}");
        }
    }
}
