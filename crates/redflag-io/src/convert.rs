//! Validation of raw source columns into the canonical Arrow schema.
//!
//! A reader turns a piece of a file into a [`RawChunk`]: one array per source column it needs
//! (text for CSV and NDJSON; whatever type the file has for Parquet) and the line of each row.
//! [`Converter::convert`] checks every canonical column, column by column, and returns the
//! accepted rows as a batch of the run schema and, for each refused row, its first fault in
//! canonical column order.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Float64Array, Int16Array, Int32Array,
    RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray, UInt8Array, UInt16Array,
    UInt32Array, new_null_array,
};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast, filter};
use arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, SchemaRef, TimeUnit, UInt8Type,
};
use hashbrown::HashMap;
use redflag_schema::columns::ValueKind;
use redflag_schema::{CanonicalEnum, Channel, Column, PartyKind, Status, text_type};

use crate::chunk::Lines;
use crate::error::{Error, Result};
use crate::fx::{RateTable, Series};
use crate::mapping::MappingProfile;
use crate::parse::{
    TimestampParser, ValueError, check_amount, is_country, is_currency, parse_amount, parse_int_in,
    parse_mcc, parse_signed_amount,
};
use crate::plan::{FilePlan, Source};
use crate::reject::RejectReason;

/// Source columns of a piece of a file, before validation.
pub(crate) struct RawChunk {
    /// One array per plan slot.
    pub columns: Vec<ArrayRef>,
    pub num_rows: usize,
    /// Line (or row number) of each row.
    pub lines: Lines,
}

/// A refused row: its index in the chunk and its first fault.
#[derive(Debug, Clone)]
pub(crate) struct RowFault {
    pub row: u32,
    order: u16,
    /// Shared by the faults of one column.
    pub column: Arc<str>,
    pub reason: RejectReason,
    /// Shared by the faults of a column with the same detail, among the last few details (a
    /// file whose every row lacks an FX rate holds one text per currency, not one per row).
    pub detail: Arc<str>,
}

/// The outcome of converting one chunk.
pub(crate) struct Converted {
    /// Accepted rows in the run schema.
    pub batch: RecordBatch,
    /// Chunk row index of each accepted row; `None` when every row was accepted.
    pub accepted_rows: Option<Vec<u32>>,
    /// Refused rows, in row order.
    pub faults: Vec<RowFault>,
}

impl Converted {
    /// The chunk row of accepted row `i`.
    pub fn raw_row(&self, i: usize) -> usize {
        self.accepted_rows.as_ref().map_or(i, |a| a[i] as usize)
    }
}

/// Checks a canonical text value (as a mapping constant or a mapped value).
pub(crate) fn check_text_value(c: Column, v: &str) -> Result<(), ValueError> {
    let bad = |reason, detail: String| Err(ValueError::new(reason, detail));
    match c.value_kind() {
        ValueKind::Channel => enum_key::<Channel>(v).map(|_| ()),
        ValueKind::Status => enum_key::<Status>(v).map(|_| ()),
        ValueKind::PartyKind => enum_key::<PartyKind>(v).map(|_| ()),
        ValueKind::Currency if !is_currency(&code_spelling(v)) => bad(
            RejectReason::BadCurrency,
            format!("currency {v:?} is not an ISO 4217 code like USD or an asset ticker like BTC"),
        ),
        ValueKind::Country if !is_country(&code_spelling(v)) => bad(
            RejectReason::BadValue,
            format!("country {v:?} is not an ISO 3166-1 alpha-2 code like DE"),
        ),
        ValueKind::Amount => parse_amount(v, b'.').map(|_| ()),
        ValueKind::Mcc if parse_mcc(v).is_none() => bad(
            RejectReason::BadValue,
            format!("mcc {v:?} is not a 4-digit merchant category code"),
        ),
        _ => Ok(()),
    }
}

/// A currency or country code as written in the schema: without surrounding blanks, in upper
/// case (`usd` and ` de ` are `USD` and `DE`; codes are upper case by definition, so no two
/// codes become one).
pub(crate) fn code_spelling(v: &str) -> Cow<'_, str> {
    let t = v.trim();
    if t.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(t.to_ascii_uppercase())
    } else {
        Cow::Borrowed(t)
    }
}

/// An enum value as the schema spells it: without surrounding blanks, in lower case, with
/// spaces and hyphens as underscores (`ACH`, `Card Present` and `wire-intl` are `ach`,
/// `card_present` and `wire_intl`). The canonical values are distinct lower-case snake_case
/// words, so no two of them become one.
fn enum_spelling(v: &str) -> String {
    v.trim()
        .chars()
        .map(|ch| match ch {
            ' ' | '-' => '_',
            _ => ch.to_ascii_lowercase(),
        })
        .collect()
}

/// The key of a canonical enum value, written as the schema spells it or as [`enum_spelling`]
/// reads it.
fn enum_key<E: CanonicalEnum>(v: &str) -> Result<u8, ValueError> {
    let parsed = E::parse_canonical(v).or_else(|| E::parse_canonical(&enum_spelling(v)));
    parsed.map(E::key).ok_or_else(|| {
        ValueError::new(
            RejectReason::UnknownEnumValue,
            format!(
                "unknown {} value {v:?}; expected one of: {} (or map it in the profile's [values] table)",
                E::KIND,
                E::expected()
            ),
        )
    })
}

/// Where a fault in column `c` ranks among a row's faults (canonical column order): a refused
/// row reports its first.
fn fault_order(c: Column) -> u16 {
    Column::ALL.iter().position(|x| *x == c).unwrap_or(0) as u16
}

/// Converts raw chunks of one file into the run schema.
pub(crate) struct Converter<'a> {
    pub plan: &'a FilePlan,
    pub profile: &'a MappingProfile,
    pub ts: TimestampParser,
    pub decimal: u8,
    pub rates: &'a RateTable,
    pub schema: SchemaRef,
}

/// Faults found while converting one column.
struct Faults<'e> {
    out: &'e mut Vec<RowFault>,
    order: u16,
    column: Arc<str>,
    /// The last distinct details, most recent first.
    recent: Vec<Arc<str>>,
}

/// Details [`Faults`] remembers for sharing.
const RECENT_DETAILS: usize = 8;

impl<'e> Faults<'e> {
    fn new(out: &'e mut Vec<RowFault>, order: u16, column: &str) -> Self {
        Faults {
            out,
            order,
            column: column.into(),
            recent: Vec::new(),
        }
    }

    fn push(&mut self, row: usize, e: ValueError) {
        let detail = match self.recent.iter().position(|d| **d == *e.detail) {
            Some(k) => self.recent[k].clone(),
            None => {
                let d: Arc<str> = e.detail.into();
                self.recent.truncate(RECENT_DETAILS - 1);
                self.recent.insert(0, d.clone());
                d
            }
        };
        self.out.push(RowFault {
            row: row as u32,
            order: self.order,
            column: self.column.clone(),
            reason: e.reason,
            detail,
        });
    }

    fn missing(&mut self, row: usize, c: Column) {
        self.push(
            row,
            ValueError::new(
                RejectReason::MissingField,
                format!("required field {} is empty", c.name()),
            ),
        );
    }
}

/// What a text column's distinct value means for the rows that hold it.
enum Verdict {
    Keep,
    /// Empty after mapping: missing (a fault when the column is required).
    Empty,
    Refuse(ValueError),
}

/// A text column as distinct values and a key per row.
struct Distinct {
    values: ArrayRef,
    keys: Int32Array,
}

impl Distinct {
    /// Null rows as the empty text (a value of their own), for a value map that maps "".
    fn nulls_as_empty(self) -> Distinct {
        let values = self.values.as_string::<i32>();
        let empty = values.len() as i32;
        let mut b = StringBuilder::with_capacity(values.len() + 1, values.value_data().len());
        for v in 0..values.len() {
            b.append_option(values.is_valid(v).then(|| values.value(v)));
        }
        b.append_value("");
        let keys: Vec<i32> = (0..self.keys.len())
            .map(|r| {
                if self.keys.is_null(r) {
                    empty
                } else {
                    self.keys.value(r)
                }
            })
            .collect();
        Distinct {
            values: Arc::new(b.finish()),
            keys: Int32Array::from(keys),
        }
    }

    /// The column as a dictionary over `values` (aligned with the distinct values), with the
    /// rows whose value is not kept set to null and their faults recorded.
    fn finish(
        self,
        c: Column,
        verdicts: Vec<Verdict>,
        values: ArrayRef,
        f: &mut Faults<'_>,
    ) -> Result<ArrayRef> {
        let all_kept = verdicts.iter().all(|v| matches!(v, Verdict::Keep));
        let keys = if all_kept && (self.keys.null_count() == 0 || !c.is_required()) {
            self.keys
        } else {
            let mut valid = Vec::with_capacity(self.keys.len());
            for row in 0..self.keys.len() {
                let verdict = if self.keys.is_null(row) {
                    &Verdict::Empty
                } else {
                    &verdicts[self.keys.value(row) as usize]
                };
                valid.push(match verdict {
                    Verdict::Keep => true,
                    Verdict::Empty => {
                        if c.is_required() {
                            f.missing(row, c);
                        }
                        false
                    }
                    Verdict::Refuse(e) => {
                        f.push(row, e.clone());
                        false
                    }
                });
            }
            Int32Array::new(self.keys.values().clone(), nulls(valid))
        };
        Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
            keys, values,
        )?))
    }
}

impl Converter<'_> {
    /// Converts one chunk.
    pub fn convert(&self, chunk: &RawChunk) -> Result<Converted> {
        let n = chunk.num_rows;
        let mut faults = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        let mut ts_out: Option<ArrayRef> = None;
        let mut amount_out: Option<ArrayRef> = None;
        let mut currency_out: Option<ArrayRef> = None;
        let paid_out = self.paid_out(chunk, &mut faults)?;
        for field in self.schema.fields() {
            let Some(c) = Column::from_name(field.name()) else {
                return Err(Error::Option(format!(
                    "unknown column {} in run schema",
                    field.name()
                )));
            };
            let order = fault_order(c);
            if c.is_derived() {
                arrays.push(new_null_array(&DataType::Float64, 0));
                continue;
            }
            let source = self.plan.source(c);
            let column = match source {
                Source::Field { header, .. }
                | Source::DateTime { header, .. }
                | Source::Statement { header, .. } => header.clone(),
                _ => c.name().to_owned(),
            };
            let mut f = Faults::new(&mut faults, order, &column);
            let arr = self.column(c, source, chunk, paid_out.as_deref(), &mut f)?;
            match c {
                Column::Ts => ts_out = Some(arr.clone()),
                Column::Amount => amount_out = Some(arr.clone()),
                Column::Currency => currency_out = Some(arr.clone()),
                _ => {}
            }
            arrays.push(arr);
        }
        // amount_base, from the checked ts, amount and currency.
        if let (Some(ts), Some(amount), Some(cur), Ok(idx)) = (
            ts_out,
            amount_out,
            currency_out,
            self.schema.index_of(Column::AmountBase.name()),
        ) {
            let mut f = Faults::new(
                &mut faults,
                fault_order(Column::AmountBase),
                Column::Currency.name(),
            );
            arrays[idx] = self.amount_base(&ts, &amount, &cur, &mut f);
        }
        faults.sort_by_key(|f| (f.row, f.order));
        faults.dedup_by_key(|f| f.row);
        let mut accepted_rows = None;
        if !faults.is_empty() {
            let mut keep = vec![true; n];
            for f in &faults {
                keep[f.row as usize] = false;
            }
            accepted_rows = Some((0..n as u32).filter(|&r| keep[r as usize]).collect());
            let mask = BooleanArray::from(keep);
            arrays = arrays
                .iter()
                .map(|a| filter(a, &mask))
                .collect::<std::result::Result<_, _>>()?;
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        Ok(Converted {
            batch,
            accepted_rows,
            faults,
        })
    }

    /// With a [`crate::Statement`] profile: whether the statement's account paid, row by row:
    /// its debit/credit indicator says so (a value that is neither is a fault), else a
    /// negative amount. A row whose amount cannot be read counts as paid in; the amount column
    /// refuses it.
    fn paid_out(&self, chunk: &RawChunk, faults: &mut Vec<RowFault>) -> Result<Option<Vec<bool>>> {
        let Some(st) = &self.profile.statement else {
            return Ok(None);
        };
        if let Some((slot, header)) = &self.plan.debit_credit {
            let mut f = Faults::new(faults, fault_order(Column::Amount), header);
            let s = self.utf8(&chunk.columns[*slot], Column::Amount)?;
            let mut out = Vec::with_capacity(s.len());
            for row in 0..s.len() {
                let v = if s.is_valid(row) {
                    s.value(row).trim()
                } else {
                    ""
                };
                let debit = st.debit.iter().any(|d| d == v);
                out.push(debit);
                if !debit && !st.credit.iter().any(|d| d == v) {
                    f.push(
                        row,
                        ValueError::new(
                            RejectReason::BadValue,
                            format!(
                                "debit/credit indicator {v:?} is neither a debit ({}) nor a \
                                 credit ({})",
                                st.debit.join(", "),
                                st.credit.join(", ")
                            ),
                        ),
                    );
                }
            }
            return Ok(Some(out));
        }
        let Source::Field { slot, .. } = self.plan.source(Column::Amount) else {
            return Ok(Some(vec![false; chunk.num_rows]));
        };
        let raw = &chunk.columns[*slot];
        if raw.data_type().is_numeric() {
            let v = cast(raw, &DataType::Float64)?;
            let v = v.as_primitive::<Float64Type>();
            return Ok(Some(v.values().iter().map(|&x| x < 0.0).collect()));
        }
        let s = self.utf8(raw, Column::Amount)?;
        Ok(Some(
            (0..s.len())
                .map(|row| {
                    s.is_valid(row)
                        && parse_signed_amount(s.value(row), self.decimal).is_ok_and(|v| v < 0.0)
                })
                .collect(),
        ))
    }

    fn column(
        &self,
        c: Column,
        source: &Source,
        chunk: &RawChunk,
        paid_out: Option<&[bool]>,
        f: &mut Faults<'_>,
    ) -> Result<ArrayRef> {
        let n = chunk.num_rows;
        let raw: ArrayRef = match source {
            Source::Absent => return Ok(new_null_array(&c.data_type(), n)),
            Source::Field { slot, .. } => chunk.columns[*slot].clone(),
            Source::Statement {
                account,
                counterparty,
                sender,
                ..
            } => {
                let a = self.utf8(&chunk.columns[*account], c)?;
                let p = self.utf8(&chunk.columns[*counterparty], c)?;
                let paid_out = paid_out.unwrap_or_default();
                let mut b = StringBuilder::with_capacity(n, a.value_data().len());
                for row in 0..n {
                    // The account is the sender of what it paid, the receiver of the rest.
                    let side = if paid_out.get(row) == Some(sender) {
                        &a
                    } else {
                        &p
                    };
                    b.append_option(side.is_valid(row).then(|| side.value(row)));
                }
                Arc::new(b.finish())
            }
            Source::Constant(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                v.as_str(),
                n,
            ))),
            Source::LineId => {
                let mut b = StringBuilder::with_capacity(n, n * (self.plan.file_name.len() + 8));
                for line in chunk.lines.iter() {
                    b.append_value(format!("{}:{line}", self.plan.file_name));
                }
                Arc::new(b.finish())
            }
            Source::DateTime { date, time, .. } => {
                let d = self.utf8(&chunk.columns[*date], c)?;
                let t = self.utf8(&chunk.columns[*time], c)?;
                let dt = self.profile.timestamp.as_ref();
                let (df, tf) = (
                    dt.and_then(|x| x.date_format.as_deref()),
                    dt.and_then(|x| x.time_format.as_deref()),
                );
                let mut out = Vec::with_capacity(n);
                let mut valid = Vec::with_capacity(n);
                for row in 0..n {
                    let r = match (d.is_valid(row), t.is_valid(row)) {
                        (true, true) => self.ts.parse_date_time(d.value(row), t.value(row), df, tf),
                        _ => Err(ValueError::new(
                            RejectReason::MissingField,
                            "empty date or time",
                        )),
                    };
                    push_result(&mut out, &mut valid, r, row, f);
                }
                return Ok(Arc::new(
                    TimestampMicrosecondArray::new(out.into(), nulls(valid)).with_timezone("UTC"),
                ));
            }
        };
        match c.value_kind() {
            ValueKind::Id => self.id_column(c, &raw, f),
            ValueKind::Text => self.text_column(c, &raw, f),
            ValueKind::Currency | ValueKind::Country => self.code_column(c, &raw, f),
            ValueKind::Channel => self.enum_column::<Channel>(c, &raw, f),
            ValueKind::Status => self.enum_column::<Status>(c, &raw, f),
            ValueKind::PartyKind => self.enum_column::<PartyKind>(c, &raw, f),
            ValueKind::Timestamp => self.ts_column(c, &raw, f),
            ValueKind::Amount => self.amount_column(c, &raw, f),
            ValueKind::Mcc => {
                self.int_column(c, &raw, f, 0, 9999, "a 4-digit merchant category code")
            }
            ValueKind::OffsetMinutes => self.int_column(
                c,
                &raw,
                f,
                -840,
                840,
                "an offset in minutes from -840 to 840",
            ),
            ValueKind::Count => self.int_column(c, &raw, f, 0, i64::from(u32::MAX), "a count ≥ 0"),
            _ => Ok(new_null_array(&c.data_type(), n)),
        }
    }

    /// The array as UTF-8 text (strings as they are; numbers and other scalars rendered).
    fn utf8<'r>(&self, raw: &'r ArrayRef, c: Column) -> Result<Cow<'r, StringArray>> {
        if let Some(s) = raw.as_string_opt::<i32>() {
            return Ok(Cow::Borrowed(s));
        }
        match raw.data_type() {
            DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Dictionary(_, _)
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Boolean => {
                let casted = cast(raw, &DataType::Utf8)?;
                Ok(Cow::Owned(casted.as_string::<i32>().clone()))
            }
            other => Err(Error::format(
                &self.plan.path,
                format!("column for `{}` has type {other}; expected text", c.name()),
            )),
        }
    }

    fn id_column(&self, c: Column, raw: &ArrayRef, f: &mut Faults<'_>) -> Result<ArrayRef> {
        let s = self.utf8(raw, c)?;
        for row in 0..s.len() {
            // Only values that start with white space can be blank.
            let blank = |v: &str| {
                v.as_bytes().first().is_none_or(u8::is_ascii_whitespace) && v.trim().is_empty()
            };
            if s.is_null(row) || blank(s.value(row)) {
                f.missing(row, c);
            }
        }
        Ok(Arc::new(s.into_owned()))
    }

    /// A text column's distinct values and a key per row (null keys for nulls). A dictionary
    /// (as Parquet dictionary pages are read) is taken as it is; plain text is encoded here,
    /// one small hash table per chunk.
    fn distinct(&self, raw: &ArrayRef, c: Column) -> Result<Distinct> {
        if let DataType::Dictionary(_, v) = raw.data_type()
            && matches!(
                v.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        {
            let d = if raw.data_type() == &text_type() {
                raw.clone()
            } else {
                cast(raw, &text_type())?
            };
            let d = d.as_dictionary::<Int32Type>();
            return Ok(Distinct {
                values: d.values().clone(),
                keys: d.keys().clone(),
            });
        }
        let s = self.utf8(raw, c)?;
        let mut index: HashMap<&str, i32> = HashMap::new();
        let mut values = StringBuilder::new();
        let mut keys = Vec::with_capacity(s.len());
        for row in 0..s.len() {
            if s.is_null(row) {
                keys.push(0);
                continue;
            }
            let v = s.value(row);
            let next = index.len() as i32;
            let k = *index.entry(v).or_insert_with(|| {
                values.append_value(v);
                next
            });
            keys.push(k);
        }
        Ok(Distinct {
            values: Arc::new(values.finish()),
            keys: Int32Array::new(keys.into(), s.nulls().cloned()),
        })
    }

    /// Free text: kept as a dictionary, with empty values as nulls.
    fn text_column(&self, c: Column, raw: &ArrayRef, f: &mut Faults<'_>) -> Result<ArrayRef> {
        let d = self.distinct(raw, c)?;
        let values = d.values.as_string::<i32>();
        let verdicts = (0..values.len())
            .map(|v| {
                if values.is_null(v) || values.value(v).is_empty() {
                    Verdict::Empty
                } else {
                    Verdict::Keep
                }
            })
            .collect();
        let values = d.values.clone();
        d.finish(c, verdicts, values, f)
    }

    /// Currency and country codes: value map, then the code check, once per distinct value.
    fn code_column(&self, c: Column, raw: &ArrayRef, f: &mut Faults<'_>) -> Result<ArrayRef> {
        let mut d = self.distinct(raw, c)?;
        let has_map = self.profile.values.contains_key(c.name());
        if has_map && d.keys.null_count() > 0 && !self.profile.map_value(c, "").is_empty() {
            // The profile maps an empty value: a null is mapped like one.
            d = d.nulls_as_empty();
        }
        let values = d.values.as_string::<i32>();
        let mut texts: Vec<Cow<'_, str>> = Vec::with_capacity(values.len());
        let mut verdicts = Vec::with_capacity(values.len());
        for v in 0..values.len() {
            let text = if values.is_null(v) {
                ""
            } else {
                values.value(v)
            };
            let text = code_spelling(self.profile.map_value(c, text));
            verdicts.push(if text.is_empty() {
                Verdict::Empty
            } else {
                match check_text_value(c, &text) {
                    Ok(()) => Verdict::Keep,
                    Err(e) => Verdict::Refuse(e),
                }
            });
            texts.push(text);
        }
        // The values as read, unless a value map or a spelling changed one of them.
        let changed = (0..values.len()).any(|v| values.is_valid(v) && texts[v] != values.value(v));
        let values = if changed {
            Arc::new(StringArray::from_iter_values(texts)) as ArrayRef
        } else {
            d.values.clone()
        };
        d.finish(c, verdicts, values, f)
    }

    fn enum_column<E: CanonicalEnum>(
        &self,
        c: Column,
        raw: &ArrayRef,
        f: &mut Faults<'_>,
    ) -> Result<ArrayRef> {
        let d = self.distinct(raw, c)?;
        let values = d.values.as_string::<i32>();
        let parsed: Vec<Option<Result<u8, ValueError>>> = (0..values.len())
            .map(|v| {
                let text = if values.is_null(v) {
                    ""
                } else {
                    values.value(v)
                };
                (!text.is_empty()).then(|| enum_key::<E>(self.profile.map_value(c, text)))
            })
            .collect();
        let n = d.keys.len();
        let mut keys = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        for row in 0..n {
            let got = if d.keys.is_null(row) {
                None
            } else {
                parsed[d.keys.value(row) as usize].as_ref()
            };
            match got {
                Some(Ok(k)) => {
                    keys.push(*k);
                    valid.push(true);
                }
                Some(Err(e)) => {
                    f.push(row, e.clone());
                    keys.push(0);
                    valid.push(false);
                }
                None => {
                    if c.is_required() {
                        f.missing(row, c);
                    }
                    keys.push(0);
                    valid.push(false);
                }
            }
        }
        let keys = UInt8Array::new(keys.into(), nulls(valid));
        Ok(Arc::new(DictionaryArray::<UInt8Type>::try_new(
            keys,
            E::dictionary_values(),
        )?))
    }

    fn ts_column(&self, c: Column, raw: &ArrayRef, f: &mut Faults<'_>) -> Result<ArrayRef> {
        let n = raw.len();
        let mut out = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        match raw.data_type() {
            DataType::Timestamp(_, tz) => {
                // Any unit to microseconds; a zone-less timestamp is local time in the profile's
                // zone, one with a zone is already UTC-based.
                let us = cast(raw, &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()))?;
                let us = us.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                if tz.is_some() && us.null_count() == 0 {
                    // Nothing to check or convert: the values as they are, without a copy.
                    return Ok(Arc::new(
                        TimestampMicrosecondArray::new(us.values().clone(), None)
                            .with_timezone("UTC"),
                    ));
                }
                for row in 0..n {
                    let r = if us.is_null(row) {
                        Err(ValueError::new(
                            RejectReason::MissingField,
                            "required field ts is null",
                        ))
                    } else if tz.is_some() {
                        Ok(us.value(row))
                    } else {
                        self.ts.zone_localize(us.value(row))
                    };
                    push_result(&mut out, &mut valid, r, row, f);
                }
            }
            DataType::Date32 | DataType::Date64 => {
                let days = cast(raw, &DataType::Date32)?;
                let days = days.as_primitive::<arrow::datatypes::Date32Type>();
                for row in 0..n {
                    let r = if days.is_null(row) {
                        Err(ValueError::new(
                            RejectReason::MissingField,
                            "required field ts is null",
                        ))
                    } else {
                        self.ts
                            .zone_localize(i64::from(days.value(row)) * 86_400_000_000)
                    };
                    push_result(&mut out, &mut valid, r, row, f);
                }
            }
            _ => {
                let s = self.utf8(raw, c)?;
                for row in 0..n {
                    let r = if s.is_null(row) {
                        Err(ValueError::new(
                            RejectReason::MissingField,
                            "required field ts is empty",
                        ))
                    } else {
                        self.ts.parse(s.value(row))
                    };
                    push_result(&mut out, &mut valid, r, row, f);
                }
            }
        }
        Ok(Arc::new(
            TimestampMicrosecondArray::new(out.into(), nulls(valid)).with_timezone("UTC"),
        ))
    }

    fn amount_column(&self, c: Column, raw: &ArrayRef, f: &mut Faults<'_>) -> Result<ArrayRef> {
        let n = raw.len();
        let mut out = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        let dt = raw.data_type();
        // A statement's amounts are signed (or their sign is not read, with a debit/credit
        // indicator): the magnitude is the amount.
        let signed = self.profile.statement.is_some();
        if dt.is_numeric() {
            let v = cast(raw, &DataType::Float64)?;
            let v = v.as_primitive::<Float64Type>();
            let magnitude;
            let v = if signed {
                magnitude = v.unary::<_, Float64Type>(f64::abs);
                &magnitude
            } else {
                v
            };
            if v.null_count() == 0 && v.values().iter().all(|&x| check_amount(x).is_ok()) {
                // Every amount valid (the usual case): the values as they are, without a copy.
                return Ok(Arc::new(Float64Array::new(v.values().clone(), None)));
            }
            for row in 0..n {
                let r = if v.is_null(row) {
                    Err(ValueError::new(
                        RejectReason::MissingField,
                        "required field amount is null",
                    ))
                } else {
                    check_amount(v.value(row))
                };
                push_result(&mut out, &mut valid, r, row, f);
            }
        } else {
            let s = self.utf8(raw, c)?;
            for row in 0..n {
                let r = if s.is_null(row) {
                    Err(ValueError::new(RejectReason::MissingField, "empty amount"))
                } else if signed {
                    parse_signed_amount(s.value(row), self.decimal).map(f64::abs)
                } else {
                    parse_amount(s.value(row), self.decimal)
                };
                push_result(&mut out, &mut valid, r, row, f);
            }
        }
        Ok(Arc::new(Float64Array::new(out.into(), nulls(valid))))
    }

    fn int_column(
        &self,
        c: Column,
        raw: &ArrayRef,
        f: &mut Faults<'_>,
        lo: i64,
        hi: i64,
        expected: &str,
    ) -> Result<ArrayRef> {
        let n = raw.len();
        let mut out: Vec<i64> = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        let bad = |v: &dyn std::fmt::Display| {
            ValueError::new(
                RejectReason::BadValue,
                format!("{} {v} is not {expected}", c.name()),
            )
        };
        if raw.data_type().is_integer() {
            let v = cast(raw, &DataType::Int64)?;
            let v = v.as_primitive::<Int64Type>();
            for row in 0..n {
                if v.is_null(row) {
                    out.push(0);
                    valid.push(false);
                    continue;
                }
                let x = v.value(row);
                let r = if (lo..=hi).contains(&x) {
                    Ok(x)
                } else {
                    Err(bad(&x))
                };
                push_result(&mut out, &mut valid, r, row, f);
            }
        } else {
            let s = self.utf8(raw, c)?;
            for row in 0..n {
                let t = if s.is_null(row) {
                    ""
                } else {
                    s.value(row).trim()
                };
                if t.is_empty() {
                    out.push(0);
                    valid.push(false);
                    continue;
                }
                let parsed = if c.value_kind() == ValueKind::Mcc {
                    parse_mcc(t).map(i64::from)
                } else {
                    parse_int_in(t, lo, hi)
                };
                let r = parsed.ok_or_else(|| bad(&format!("{t:?}")));
                push_result(&mut out, &mut valid, r, row, f);
            }
        }
        let nulls = nulls(valid);
        Ok(match c.data_type() {
            DataType::UInt16 => Arc::new(UInt16Array::new(
                out.iter().map(|&x| x as u16).collect(),
                nulls,
            )),
            DataType::Int16 => Arc::new(Int16Array::new(
                out.iter().map(|&x| x as i16).collect(),
                nulls,
            )),
            _ => Arc::new(UInt32Array::new(
                out.iter().map(|&x| x as u32).collect(),
                nulls,
            )),
        })
    }

    fn amount_base(
        &self,
        ts: &ArrayRef,
        amount: &ArrayRef,
        currency: &ArrayRef,
        f: &mut Faults<'_>,
    ) -> ArrayRef {
        let ts = ts.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let amount = amount.as_primitive::<Float64Type>();
        let currency = currency.as_dictionary::<Int32Type>();
        let names = currency.values().as_string::<i32>();
        let series: Vec<Series<'_>> = (0..names.len())
            .map(|v| self.rates.series(names.value(v)))
            .collect();
        let n = ts.len();
        let mut out = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        for row in 0..n {
            if ts.is_null(row) || amount.is_null(row) || currency.is_null(row) {
                out.push(0.0);
                valid.push(false);
                continue;
            }
            let k = currency.keys().value(row) as usize;
            let r = series[k]
                .at(ts.value(row))
                .map(|rate| amount.value(row) * rate)
                .ok_or_else(|| {
                    ValueError::new(
                        RejectReason::NoFxRate,
                        self.rates.missing_detail(names.value(k), ts.value(row)),
                    )
                });
            push_result(&mut out, &mut valid, r, row, f);
        }
        Arc::new(Float64Array::new(out.into(), nulls(valid)))
    }
}

fn push_result<T: Default>(
    out: &mut Vec<T>,
    valid: &mut Vec<bool>,
    r: Result<T, ValueError>,
    row: usize,
    f: &mut Faults<'_>,
) {
    match r {
        Ok(v) => {
            out.push(v);
            valid.push(true);
        }
        Err(e) => {
            f.push(row, e);
            out.push(T::default());
            valid.push(false);
        }
    }
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    }
}
