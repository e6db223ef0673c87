//! Rejected records: why a record was refused, and where they are written.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};

/// Why a record was rejected. The `snake_case` name is the reason code used in reports and in
/// `rejected.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// A required field is empty or null.
    MissingField,
    /// The timestamp cannot be parsed (or does not exist in the profile's zone).
    BadTimestamp,
    /// The amount is not a positive finite number.
    BadAmount,
    /// A `channel`, `status` or kind value is not canonical and no profile maps it.
    UnknownEnumValue,
    /// The currency is not an ISO 4217 code or asset ticker.
    BadCurrency,
    /// An optional field (country, MCC, offset, count) is malformed.
    BadValue,
    /// The `txn_id` was seen before in this run (the first is kept).
    DuplicateTxnId,
    /// The record has more or fewer fields than the header.
    WrongFieldCount,
    /// A field is not valid UTF-8.
    InvalidUtf8,
    /// The file ends inside the record (an open quote, or a short last line).
    TruncatedRecord,
    /// A quoted field is followed by text before the next delimiter.
    MalformedQuoting,
    /// An NDJSON line is not a JSON object.
    MalformedJson,
    /// No FX rate converts the currency to the base currency on the transaction date.
    NoFxRate,
}

impl RejectReason {
    /// The reason code.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingField => "missing_field",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadAmount => "bad_amount",
            Self::UnknownEnumValue => "unknown_enum_value",
            Self::BadCurrency => "bad_currency",
            Self::BadValue => "bad_value",
            Self::DuplicateTxnId => "duplicate_txn_id",
            Self::WrongFieldCount => "wrong_field_count",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::TruncatedRecord => "truncated_record",
            Self::MalformedQuoting => "malformed_quoting",
            Self::MalformedJson => "malformed_json",
            Self::NoFxRate => "no_fx_rate",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One rejected record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    /// The source file.
    pub file: PathBuf,
    /// 1-based line where the record starts (CSV: header = line 1; NDJSON: the line;
    /// Parquet: the 1-based row number in the file).
    pub line: u64,
    /// The column at fault: the source column name where there is one, else the canonical
    /// name; empty when the fault is the record as a whole.
    pub column: String,
    /// The reason code.
    pub reason: RejectReason,
    /// What was found and what was expected.
    pub detail: String,
    /// The record as it was in the file (invalid UTF-8 shown as U+FFFD; a line break inside a
    /// quoted field kept as it was).
    pub record: String,
}

/// Receives rejected records as the ingest finds them, in input order.
pub trait RejectSink {
    /// Takes one rejected record.
    fn push(&mut self, reject: &Reject) -> Result<()>;

    /// Whether this sink reads [`Reject::record`]. When it does not, the ingest leaves the
    /// record empty rather than rendering it: on an input where most rows are refused (a
    /// missing rates file) that rendering is most of the ingest's time.
    fn wants_records(&self) -> bool {
        true
    }
}

/// Keeps every rejected record in memory (tests, small inputs).
#[derive(Debug, Default)]
pub struct CollectRejects(pub Vec<Reject>);

impl RejectSink for CollectRejects {
    fn push(&mut self, reject: &Reject) -> Result<()> {
        self.0.push(reject.clone());
        Ok(())
    }
}

/// Drops rejected records (their counts are still in the report).
#[derive(Debug, Default)]
pub struct DiscardRejects;

impl RejectSink for DiscardRejects {
    fn push(&mut self, _: &Reject) -> Result<()> {
        Ok(())
    }

    fn wants_records(&self) -> bool {
        false
    }
}

/// Writes `rejected.csv` (`file,line,column,reason,detail,record`) under a temporary name and
/// renames it into place in [`RejectCsvWriter::finish`]; dropped unfinished, it leaves nothing.
pub struct RejectCsvWriter {
    out: AtomicFile,
    path: PathBuf,
    withhold: bool,
    /// The file of the last record and its text (displayed once per file, not per record).
    file: (PathBuf, String),
}

impl RejectCsvWriter {
    /// Starts `path` (written as a temporary file next to it until `finish`).
    pub fn create(path: &Path) -> Result<Self> {
        let mut out = AtomicFile::create(path)?;
        out.write_all(b"file,line,column,reason,detail,record\n")
            .map_err(|e| Error::io(path, e))?;
        Ok(Self {
            out,
            path: path.to_owned(),
            withhold: false,
            file: Default::default(),
        })
    }

    /// Leaves the `record` column empty (pseudonymous runs: the record holds names, account
    /// ids, devices and IPs; file and line still find it in the source).
    pub fn withhold_records(mut self, withhold: bool) -> Self {
        self.withhold = withhold;
        self
    }

    /// Flushes and renames the file into place.
    pub fn finish(self) -> Result<()> {
        self.out.commit()
    }
}

impl RejectSink for RejectCsvWriter {
    fn push(&mut self, r: &Reject) -> Result<()> {
        if self.file.0 != r.file {
            self.file = (r.file.clone(), r.file.display().to_string());
        }
        let file = &self.file.1;
        let line = r.line.to_string();
        let fields = [
            file.as_str(),
            line.as_str(),
            r.column.as_str(),
            r.reason.code(),
            r.detail.as_str(),
            if self.withhold { "" } else { r.record.as_str() },
        ];
        let mut row = String::with_capacity(64 + r.record.len());
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                row.push(',');
            }
            push_csv_field(&mut row, f);
        }
        row.push('\n');
        self.out
            .write_all(row.as_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }

    fn wants_records(&self) -> bool {
        !self.withhold
    }
}

/// Appends `field` to `out`, quoted when it holds a comma, quote or line break.
pub fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}
