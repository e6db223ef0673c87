//! Counts of what an ingest read, accepted and rejected, per file and in total.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::reject::RejectReason;
use crate::source::Format;

/// What one file gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file as named in the inputs.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Records read (header and blank lines excluded).
    pub rows_read: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejected records per reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Empty lines skipped (they hold no record).
    #[serde(skip_serializing_if = "is_zero")]
    pub blank_lines: u64,
    /// Why the file could not be used, when it could not; its counts then cover what was read
    /// before the fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl FileReport {
    pub(crate) fn new(path: PathBuf, format: Format) -> Self {
        Self {
            path,
            format,
            rows_read: 0,
            accepted: 0,
            rejected: 0,
            reasons: BTreeMap::new(),
            blank_lines: 0,
            error: None,
        }
    }

    pub(crate) fn count_reject(&mut self, reason: RejectReason) {
        self.rejected += 1;
        // Looked up by `&str` first: no key allocated per rejected record.
        match self.reasons.get_mut(reason.code()) {
            Some(n) => *n += 1,
            None => {
                self.reasons.insert(reason.code().to_owned(), 1);
            }
        }
    }
}

/// What a whole ingest gave: totals and one entry per file.
///
/// Its JSON form is what `redflag check --json` prints:
/// `{"rows_read": N, "accepted": N, "rejected": N, "reasons": {...}, "files": [...]}`.
/// For every file and in total, `rows_read == accepted + rejected`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    /// Records read in all files.
    pub rows_read: u64,
    /// Records accepted in all files.
    pub accepted: u64,
    /// Records rejected in all files.
    pub rejected: u64,
    /// Rejected records per reason code, all files.
    pub reasons: BTreeMap<String, u64>,
    /// Per file, in input order.
    pub files: Vec<FileReport>,
}

impl IngestReport {
    pub(crate) fn push(&mut self, file: FileReport) {
        self.rows_read += file.rows_read;
        self.accepted += file.accepted;
        self.rejected += file.rejected;
        for (k, v) in &file.reasons {
            *self.reasons.entry(k.clone()).or_default() += v;
        }
        self.files.push(file);
    }

    /// Rejected records per reason code, most frequent first (ties by code).
    pub fn reasons_by_count(&self) -> Vec<(&str, u64)> {
        let mut reasons: Vec<(&str, u64)> =
            self.reasons.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        reasons
    }

    /// Files that could not be used.
    pub fn failed_files(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.error.is_some())
    }

    /// Whether `rows_read == accepted + rejected` holds for every file and in total.
    pub fn balances(&self) -> bool {
        self.rows_read == self.accepted + self.rejected
            && self
                .files
                .iter()
                .all(|f| f.rows_read == f.accepted + f.rejected)
    }
}
