//! What a reader hands back for one piece of a file: accepted rows, refused rows with their
//! original text, and the hashes the duplicate check needs.

use std::hash::BuildHasher;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use redflag_schema::columns::TXN_ID;

use crate::convert::Converted;
use crate::reject::RejectReason;

/// Where the rows of a chunk came from, to show a refused row as it was.
pub(crate) enum Origin {
    /// Text records: the block and each raw row's byte range.
    Text {
        bytes: Vec<u8>,
        ranges: Vec<(usize, usize)>,
    },
    /// Rows of a source batch (Parquet).
    Arrow(RecordBatch),
}

impl Origin {
    /// Shows raw rows as they were: the record for text inputs, a JSON-like object for
    /// Parquet. Made once per chunk, so a chunk of many refused rows builds its column
    /// formatters once.
    pub fn renderer(&self) -> Renderer<'_> {
        match self {
            Origin::Text { bytes, ranges } => Renderer::Text { bytes, ranges },
            Origin::Arrow(batch) => {
                let opts = FormatOptions::default().with_null("null");
                let schema = batch.schema();
                let columns = schema
                    .fields()
                    .iter()
                    .zip(batch.columns())
                    .map(|(field, col)| ArrowColumn {
                        name: serde_json::Value::String(field.name().clone()).to_string(),
                        array: col.as_ref(),
                        format: ArrayFormatter::try_new(col.as_ref(), &opts).ok(),
                        quoted: matches!(
                            col.data_type(),
                            DataType::Utf8
                                | DataType::LargeUtf8
                                | DataType::Utf8View
                                | DataType::Timestamp(_, _)
                                | DataType::Dictionary(_, _)
                        ),
                    })
                    .collect();
                Renderer::Arrow(columns)
            }
        }
    }
}

/// Renders the raw rows of one chunk ([`Origin::renderer`]).
pub(crate) enum Renderer<'a> {
    Text {
        bytes: &'a [u8],
        ranges: &'a [(usize, usize)],
    },
    Arrow(Vec<ArrowColumn<'a>>),
}

/// One column of an Arrow chunk, ready to show values.
pub(crate) struct ArrowColumn<'a> {
    /// The name as a JSON string.
    name: String,
    array: &'a dyn Array,
    format: Option<ArrayFormatter<'a>>,
    /// Shown as a JSON string (text, times, dictionaries).
    quoted: bool,
}

impl Renderer<'_> {
    /// Raw row `row` as text (invalid UTF-8 shown as U+FFFD).
    pub fn render(&self, row: usize) -> String {
        match self {
            Renderer::Text { bytes, ranges } => {
                let (a, b) = ranges[row];
                String::from_utf8_lossy(&bytes[a..b]).into_owned()
            }
            Renderer::Arrow(columns) => {
                let mut out = String::from("{");
                for (k, c) in columns.iter().enumerate() {
                    if k > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&c.name);
                    out.push_str(": ");
                    if c.array.is_null(row) {
                        out.push_str("null");
                        continue;
                    }
                    let value = c
                        .format
                        .as_ref()
                        .map(|f| f.value(row).to_string())
                        .unwrap_or_default();
                    if c.quoted {
                        out.push_str(&serde_json::Value::String(value).to_string());
                    } else {
                        out.push_str(&value);
                    }
                }
                out.push('}');
                out
            }
        }
    }
}

/// The line (or, for Parquet, the row number) of each raw row of a chunk.
pub(crate) enum Lines {
    /// Text inputs: one line per row (a record may span several lines).
    List(Vec<u64>),
    /// Consecutive rows from `first`.
    From { first: u64, n: usize },
}

impl Lines {
    pub fn len(&self) -> usize {
        match self {
            Lines::List(v) => v.len(),
            Lines::From { n, .. } => *n,
        }
    }

    /// The line of raw row `row`.
    pub fn get(&self, row: usize) -> u64 {
        match self {
            Lines::List(v) => v[row],
            Lines::From { first, .. } => first + row as u64,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).map(|r| self.get(r))
    }
}

/// A row refused by the reader before conversion (structure, encoding).
pub(crate) struct StructuralFault {
    pub line: u64,
    pub column: String,
    pub reason: RejectReason,
    pub detail: String,
    pub record: String,
}

/// The outcome of reading and converting one piece of a file.
pub(crate) struct ChunkResult {
    pub converted: Converted,
    /// Line of each raw (converted) row.
    pub lines: Lines,
    pub origin: Origin,
    pub structural: Vec<StructuralFault>,
    /// Records read (raw rows plus structurally refused ones).
    pub rows_read: u64,
    /// Empty lines skipped (text inputs).
    pub blank_lines: u64,
    /// Hash of the `txn_id` of each accepted row.
    pub hashes: Vec<u64>,
}

impl ChunkResult {
    pub fn new<S: BuildHasher>(
        converted: Converted,
        lines: Lines,
        origin: Origin,
        structural: Vec<StructuralFault>,
        blank_lines: u64,
        hasher: &S,
    ) -> Self {
        let rows_read = (lines.len() + structural.len()) as u64;
        let hashes = converted
            .batch
            .column_by_name(TXN_ID)
            .map(|ids| {
                let ids = ids.as_string::<i32>();
                (0..ids.len())
                    .map(|i| hasher.hash_one(ids.value(i)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            converted,
            lines,
            origin,
            structural,
            rows_read,
            blank_lines,
            hashes,
        }
    }
}

/// The rows a text reader (CSV, NDJSON) gathered from one block, before conversion.
pub(crate) struct TextRows {
    /// One builder per plan slot, one value per kept row.
    pub builders: Vec<arrow::array::StringBuilder>,
    /// Line of each kept row.
    pub lines: Vec<u64>,
    /// Byte range of each kept row in the block.
    pub ranges: Vec<(usize, usize)>,
    pub structural: Vec<StructuralFault>,
    pub blank: u64,
}

impl TextRows {
    /// Converts the kept rows; the block's bytes stay with the result to show refused rows.
    pub fn convert<S: BuildHasher>(
        self,
        bytes: Vec<u8>,
        conv: &crate::convert::Converter<'_>,
        hasher: &S,
    ) -> crate::error::Result<ChunkResult> {
        let columns: Vec<arrow::array::ArrayRef> = self
            .builders
            .into_iter()
            .map(|mut b| std::sync::Arc::new(b.finish()) as arrow::array::ArrayRef)
            .collect();
        let raw = crate::convert::RawChunk {
            columns,
            num_rows: self.lines.len(),
            lines: Lines::List(self.lines),
        };
        let converted = conv.convert(&raw)?;
        Ok(ChunkResult::new(
            converted,
            raw.lines,
            Origin::Text {
                bytes,
                ranges: self.ranges,
            },
            self.structural,
            self.blank,
            hasher,
        ))
    }
}
