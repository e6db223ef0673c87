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

/// Appends `x` with `decimals` digits after the point, exactly as `format!("{x:.decimals$}")`
/// does (the decimal closest to `x`'s exact binary value), without float formatting in the
/// common case. Outputs of millions of scores otherwise spend most of their time there.
pub fn push_fixed(out: &mut String, x: f64, decimals: usize) {
    use std::fmt::Write as _;
    const POW10: [u64; 10] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ];
    if let Some(&scale) = POW10.get(decimals) {
        // y = x · 10^decimals rounded once: below 10^8 it is within 2^-53 · 10^8 ≈ 1.1e-8 of
        // the exact product, so unless the fraction is within 1e-7 of a tie, rounding y gives
        // the integer that rounding the exact value gives. (NaN and infinities fail `y < 1e8`;
        // -0.0 is formatted with its sign, so negative signs go the slow way too.)
        let y = x * scale as f64;
        if x.is_sign_positive() && y < 1e8 && ((y - y.floor()) - 0.5).abs() > 1e-7 {
            let v = y.round() as u64;
            let _ = write!(out, "{}", v / scale);
            if decimals > 0 {
                let _ = write!(out, ".{:0width$}", v % scale, width = decimals);
            }
            return;
        }
    }
    let _ = write!(out, "{x:.decimals$}");
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

#[cfg(test)]
mod fixed_tests {
    #[test]
    fn push_fixed_writes_what_format_writes() {
        // Ties and near-ties at 6 and 3 decimals, zeros, large and tiny values, and a seeded
        // spread of ordinary ones.
        let mut xs = vec![
            0.0,
            -0.0,
            1.0,
            100.0,
            0.5,
            2.5e-7,
            5e-7,
            0.000_000_5,
            0.123_456_5,
            0.999_999_5,
            99.999_5,
            1e-300,
            12_345.678_9,
            1e8,
            1e12,
            -1.5,
            f64::NAN,
            f64::INFINITY,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..200_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            xs.push(unit);
            xs.push(unit * 100.0);
            xs.push((i as f64 + 0.5) / 1e6);
            xs.push((i as f64 + 0.5) / 1e3);
        }
        for x in xs {
            for d in [0, 3, 6] {
                let mut got = String::new();
                super::push_fixed(&mut got, x, d);
                assert_eq!(got, format!("{x:.d$}"), "{x:e} at {d} decimals");
            }
        }
    }
}
