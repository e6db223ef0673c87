//! Where each canonical column of a file comes from, given its header and the profile.

use std::path::{Path, PathBuf};

use redflag_schema::Column;

use crate::error::{Error, Result};
use crate::mapping::{IdGenerator, MappingProfile};

/// The origin of one canonical column in one file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// Source column `slot` of the raw chunk, from the header `header`.
    Field { slot: usize, header: String },
    /// The same value in every row.
    Constant(String),
    /// A date column and a time column.
    DateTime {
        date: usize,
        time: usize,
        header: String,
    },
    /// `<file name>:<line>`.
    LineId,
    /// A statement's account or counterparty column (slots), whichever paid (`sender`) or was
    /// paid, by the sign of the row's amount.
    Statement {
        account: usize,
        counterparty: usize,
        sender: bool,
        header: String,
    },
    /// The file does not supply this optional column.
    Absent,
}

/// How one file maps onto the canonical schema.
#[derive(Debug, Clone)]
pub(crate) struct FilePlan {
    pub path: PathBuf,
    pub file_name: String,
    /// Indices in the file's header of the source columns to read, by slot.
    pub slots: Vec<usize>,
    /// Names of those source columns, by slot.
    pub slot_names: Vec<String>,
    /// For every canonical non-derived column: its source.
    pub sources: Vec<(Column, Source)>,
    /// Number of header columns.
    pub width: usize,
    /// A statement's debit/credit indicator: slot and header.
    pub debit_credit: Option<(usize, String)>,
}

impl FilePlan {
    /// Resolves the plan; `header` holds the file's column names in order.
    pub fn resolve(path: &Path, header: &[String], profile: &MappingProfile) -> Result<Self> {
        let mut plan = FilePlan {
            path: path.to_owned(),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            slots: Vec::new(),
            slot_names: Vec::new(),
            sources: Vec::new(),
            width: header.len(),
            debit_credit: None,
        };
        let missing = |c: Column, looked_for: &str| Error::MissingColumn {
            path: path.to_owned(),
            column: c.name(),
            looked_for: looked_for.to_owned(),
            profile: profile.name.clone(),
            found: header.join(", "),
        };
        for &c in Column::ALL {
            if c.is_derived() {
                continue;
            }
            let statement = profile.statement.as_ref().and_then(|st| {
                st.pairs()
                    .into_iter()
                    .find(|(s, r, _, _)| *s == c || *r == c)
                    .map(|(s, _, a, p)| (s == c, a, p))
            });
            let source = if let Some((sender, a, p)) = statement {
                Source::Statement {
                    account: plan.slot_of(header, a).ok_or_else(|| missing(c, a))?,
                    counterparty: plan.slot_of(header, p).ok_or_else(|| missing(c, p))?,
                    sender,
                    header: format!("{a}/{p}"),
                }
            } else if let Some(v) = profile.constants.get(c.name()) {
                Source::Constant(v.clone())
            } else if c == Column::TxnId && profile.generate.txn_id == Some(IdGenerator::Line) {
                Source::LineId
            } else if let (Column::Ts, Some(dt)) = (c, &profile.timestamp) {
                let date = plan
                    .slot_of(header, &dt.date)
                    .ok_or_else(|| missing(c, &dt.date))?;
                let time = plan
                    .slot_of(header, &dt.time)
                    .ok_or_else(|| missing(c, &dt.time))?;
                Source::DateTime {
                    date,
                    time,
                    header: format!("{}+{}", dt.date, dt.time),
                }
            } else {
                let name = profile.source_header(c);
                match plan.slot_of(header, name) {
                    Some(slot) => Source::Field {
                        slot,
                        header: name.to_owned(),
                    },
                    None if c.is_required() => return Err(missing(c, name)),
                    None => Source::Absent,
                }
            };
            plan.sources.push((c, source));
        }
        if let Some(name) = profile
            .statement
            .as_ref()
            .and_then(|st| st.debit_credit.as_ref())
        {
            let slot = plan
                .slot_of(header, name)
                .ok_or_else(|| missing(Column::Amount, name))?;
            plan.debit_credit = Some((slot, name.clone()));
        }
        Ok(plan)
    }

    /// Where canonical column `c` comes from in this file.
    pub fn source(&self, c: Column) -> &Source {
        self.sources
            .iter()
            .find(|(k, _)| *k == c)
            .map_or(&Source::Absent, |(_, s)| s)
    }

    fn slot_of(&mut self, header: &[String], name: &str) -> Option<usize> {
        let idx = header.iter().position(|h| h == name)?;
        if let Some(slot) = self.slots.iter().position(|&s| s == idx) {
            return Some(slot);
        }
        self.slots.push(idx);
        self.slot_names.push(name.to_owned());
        Some(self.slots.len() - 1)
    }

    /// The optional canonical columns this file supplies.
    pub fn optional_present(&self) -> impl Iterator<Item = Column> + '_ {
        self.sources
            .iter()
            .filter(|(c, s)| c.is_optional() && *s != Source::Absent)
            .map(|(c, _)| *c)
    }
}

/// Trims header names and renames repeats `name.1`, `name.2`, ... (as pandas does).
pub(crate) fn normalize_header(raw: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for name in raw {
        let base = name.trim().to_owned();
        let mut candidate = base.clone();
        let mut n = 0;
        while out.contains(&candidate) {
            n += 1;
            candidate = format!("{base}.{n}");
        }
        out.push(candidate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        normalize_header(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn repeated_headers_are_numbered() {
        assert_eq!(
            header(&["Account", " Amount ", "Account", "Account"]),
            ["Account", "Amount", "Account.1", "Account.2"]
        );
    }

    #[test]
    fn amlworld_header_resolves() {
        let h = header(&[
            "Timestamp",
            "From Bank",
            "Account",
            "To Bank",
            "Account",
            "Amount Received",
            "Receiving Currency",
            "Amount Paid",
            "Payment Currency",
            "Payment Format",
            "Is Laundering",
        ]);
        let p = MappingProfile::builtin("amlworld").expect("profile");
        let plan = FilePlan::resolve(Path::new("HI-Small_Trans.csv"), &h, &p).expect("plan");
        let src = |c: Column| {
            plan.sources
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, s)| s.clone())
        };
        assert_eq!(src(Column::TxnId), Some(Source::LineId));
        assert_eq!(
            src(Column::SenderKind),
            Some(Source::Constant("account".into()))
        );
        let Some(Source::Field { slot, .. }) = src(Column::ReceiverId) else {
            panic!("receiver")
        };
        assert_eq!(h[plan.slots[slot]], "Account.1");
        assert!(
            !plan.slot_names.iter().any(|n| n == "Is Laundering"),
            "labels never read"
        );
    }

    #[test]
    fn missing_required_column_names_file_column_and_header() {
        let h = header(&[
            "txn_id",
            "ts",
            "sender_id",
            "receiver_id",
            "currency",
            "channel",
        ]);
        let e = FilePlan::resolve(Path::new("in/tx.csv"), &h, &MappingProfile::canonical())
            .expect_err("no amount");
        let msg = e.to_string();
        assert!(
            msg.starts_with("in/tx.csv: missing required column `amount`"),
            "{msg}"
        );
        assert!(msg.contains("the header has: txn_id, ts"), "{msg}");
    }
}
