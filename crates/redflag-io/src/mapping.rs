//! Mapping profiles: how a source layout maps onto the canonical schema.
//!
//! A profile is a TOML file:
//!
//! ```toml
//! name = "mybank"
//! delimiter = ";"              # CSV field delimiter (one character); default ","
//! decimal_separator = ","      # default "."
//! timezone = "Europe/Berlin"   # zone of naive timestamps and dates; default "UTC"
//! timestamp_format = "%d.%m.%Y %H:%M"   # optional strftime; default RFC 3339 / ISO 8601;
//!                              # "epoch_s", "epoch_ms", "epoch_us" or "epoch_ns" for Unix
//!                              # times (UTC, whatever `timezone` says; text or integer columns)
//!
//! [columns]                    # canonical column = source header
//! txn_id = "Buchungs-ID"
//! sender_id = "Konto"
//!
//! [timestamp]                  # instead of columns.ts: a date column plus a time column
//! date = "Datum"
//! time = "Uhrzeit"
//! date_format = "%d.%m.%Y"     # optional
//! time_format = "%H:%M"        # optional
//!
//! [constants]                  # a value for every row
//! currency = "EUR"
//!
//! [values.channel]             # source value = canonical value (channel, status, kinds,
//! "Überweisung" = "wire_domestic"   # currency and country columns)
//!
//! [generate]
//! txn_id = "line"              # no id column: use "<file name>:<line>"
//!
//! [statement]                  # one account's statement: instead of sender_id, receiver_id
//! account = "Konto"            # the statement's account
//! counterparty = "Gegenkonto"  # the other party; a negative amount is paid to it, a
//! account_name = "Inhaber"     # positive one paid by it (names optional, both or none)
//! counterparty_name = "Name"
//! debit_credit = "S/H"         # optional: amounts without a sign, a debit/credit column says
//! debit = ["S"]                # which way; its values for money paid by the account
//! credit = ["H"]               # and for money paid in (any other value is refused)
//! ```
//!
//! Codes and enum values need no map for another case or for spaces or hyphens in place of
//! underscores: `usd`, `Card Present` and `wire-intl` are read as `USD`, `card_present` and
//! `wire_intl`.
//!
//! A canonical column that the profile does not mention is read from a header of the same name,
//! when there is one. Source columns that map to nothing are ignored. Header names are trimmed; a
//! repeated header name gets `.1`, `.2`, ... appended for its later occurrences (as pandas does),
//! so AMLworld's two `Account` columns are `Account` and `Account.1`.

use std::collections::BTreeMap;
use std::path::Path;

use redflag_schema::{Column, PROTECTED_ATTRIBUTES, columns::ValueKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::parse::{TimestampParser, Zone};

/// The built-in profiles: name and TOML text.
pub const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("canonical", include_str!("../profiles/canonical.toml")),
    ("amlworld", include_str!("../profiles/amlworld.toml")),
    ("saml-d", include_str!("../profiles/saml-d.toml")),
];

/// A date column plus a time column that together give `ts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateTimeColumns {
    /// Source header of the date.
    pub date: String,
    /// Source header of the time of day.
    pub time: String,
    /// strftime format of the date; default `YYYY-MM-DD`.
    #[serde(default)]
    pub date_format: Option<String>,
    /// strftime format of the time; default `HH:MM[:SS[.f]]`.
    #[serde(default)]
    pub time_format: Option<String>,
}

/// How ids are generated for inputs that have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdGenerator {
    /// `<file name>:<line>`: unique within a run as long as file names are.
    Line,
}

/// Generated columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// Generate `txn_id`.
    #[serde(default)]
    pub txn_id: Option<IdGenerator>,
}

/// One account's statement: every row moves money into or out of `account`, and the sign of
/// the amount says which. A negative amount (`-12.50`, or `12.50-` as some bank exports write
/// it) was paid by the account to the counterparty; a positive one was paid in by the
/// counterparty. `sender_id` and `receiver_id` (and the names, when given) are read from these
/// columns accordingly, and `amount` is the magnitude.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Header of the statement's own account.
    pub account: String,
    /// Header of the other party's account.
    pub counterparty: String,
    /// Header of the account holder's name, if any.
    #[serde(default)]
    pub account_name: Option<String>,
    /// Header of the other party's name, if any.
    #[serde(default)]
    pub counterparty_name: Option<String>,
    /// Header of a debit/credit indicator, for exports whose amounts carry no sign: its
    /// `debit` values mean the account paid, its `credit` values that it was paid; the amount
    /// is then read as a magnitude, whatever its sign.
    #[serde(default)]
    pub debit_credit: Option<String>,
    /// Indicator values meaning the account paid (`S`, `D`, `Debit`, ...).
    #[serde(default)]
    pub debit: Vec<String>,
    /// Indicator values meaning the account was paid (`H`, `C`, `Credit`, ...).
    #[serde(default)]
    pub credit: Vec<String>,
}

impl Statement {
    /// The canonical (sender, receiver) columns it gives, with the (account, counterparty)
    /// headers they are read from.
    pub(crate) fn pairs(&self) -> Vec<(Column, Column, &str, &str)> {
        let mut out = vec![(
            Column::SenderId,
            Column::ReceiverId,
            self.account.as_str(),
            self.counterparty.as_str(),
        )];
        if let (Some(a), Some(c)) = (&self.account_name, &self.counterparty_name) {
            out.push((Column::SenderName, Column::ReceiverName, a, c));
        }
        out
    }
}

/// A mapping profile (see the module documentation for the file format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingProfile {
    /// The profile's name.
    pub name: String,
    /// What layout it reads.
    #[serde(default)]
    pub description: Option<String>,
    /// CSV delimiter.
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// Decimal separator of amounts in text inputs.
    #[serde(default = "default_decimal")]
    pub decimal_separator: String,
    /// Zone of naive timestamps.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// strftime format of `ts`; default RFC 3339 / ISO 8601.
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// Canonical column → source header.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// `ts` from a date column and a time column.
    #[serde(default)]
    pub timestamp: Option<DateTimeColumns>,
    /// Canonical column → constant value.
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// Canonical column → (source value → canonical value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Generated columns.
    #[serde(default)]
    pub generate: Generate,
    /// One account's statement with signed amounts, instead of sender and receiver columns.
    #[serde(default)]
    pub statement: Option<Statement>,
}

fn default_delimiter() -> String {
    ",".into()
}
fn default_decimal() -> String {
    ".".into()
}
fn default_timezone() -> String {
    "UTC".into()
}

impl Default for MappingProfile {
    fn default() -> Self {
        Self::canonical()
    }
}

impl MappingProfile {
    /// The identity profile: canonical headers, RFC 3339 timestamps, UTC.
    pub fn canonical() -> Self {
        Self {
            name: "canonical".into(),
            description: None,
            delimiter: default_delimiter(),
            decimal_separator: default_decimal(),
            timezone: default_timezone(),
            timestamp_format: None,
            columns: BTreeMap::new(),
            timestamp: None,
            constants: BTreeMap::new(),
            values: BTreeMap::new(),
            generate: Generate::default(),
            statement: None,
        }
    }

    /// The TOML text of a built-in profile.
    pub fn builtin_text(name: &str) -> Option<&'static str> {
        BUILTIN_PROFILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<Self> {
        let text = Self::builtin_text(name).ok_or_else(|| Error::Mapping {
            profile: name.into(),
            message: format!(
                "no built-in profile of that name; built in: {}",
                BUILTIN_PROFILES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        Self::from_toml(text, name)
    }

    /// A built-in profile name, or else the path of a profile file.
    pub fn resolve(name_or_path: &str) -> Result<Self> {
        if Self::builtin_text(name_or_path).is_some() {
            return Self::builtin(name_or_path);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Self::builtin(name_or_path);
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, name_or_path)
    }

    /// Parses and validates a profile. `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let profile: MappingProfile = toml::from_str(text).map_err(|e| Error::Mapping {
            profile: origin.into(),
            message: e.to_string(),
        })?;
        profile.validate(origin)?;
        Ok(profile)
    }

    fn err(origin: &str, message: String) -> Error {
        Error::Mapping {
            profile: origin.into(),
            message,
        }
    }

    fn canonical_key(origin: &str, table: &str, key: &str) -> Result<Column> {
        if PROTECTED_ATTRIBUTES.contains(&key) {
            return Err(Self::err(
                origin,
                format!(
                    "[{table}] names `{key}`, a protected attribute; redflag has no such column and a profile may not create one"
                ),
            ));
        }
        match Column::from_name(key) {
            Some(c) if c.is_derived() => Err(Self::err(
                origin,
                format!("[{table}] names `{key}`, which is derived at load and cannot be supplied"),
            )),
            Some(c) => Ok(c),
            None => Err(Self::err(
                origin,
                format!(
                    "[{table}] names `{key}`, which is not a canonical column; expected one of: {}",
                    Column::ALL
                        .iter()
                        .filter(|c| !c.is_derived())
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    fn validate(&self, origin: &str) -> Result<()> {
        self.delimiter_byte(origin)?;
        self.decimal_byte(origin)?;
        if Zone::parse(&self.timezone).is_none() {
            return Err(Self::err(
                origin,
                format!(
                    "timezone {:?} is not UTC, an offset like +02:00 or an IANA name like Europe/Berlin",
                    self.timezone
                ),
            ));
        }
        if let Some(f) = &self.timestamp_format
            && f.starts_with("epoch")
            && crate::parse::epoch_unit(f).is_none()
        {
            let known: Vec<&str> = crate::parse::EPOCH_FORMATS.iter().map(|e| e.0).collect();
            return Err(Self::err(
                origin,
                format!(
                    "timestamp_format {f:?} is not a Unix-time unit; expected one of {}",
                    known.join(", ")
                ),
            ));
        }
        for key in self.columns.keys() {
            Self::canonical_key(origin, "columns", key)?;
        }
        for (key, value) in &self.constants {
            let c = Self::canonical_key(origin, "constants", key)?;
            if self.columns.contains_key(key) {
                return Err(Self::err(
                    origin,
                    format!("`{key}` is both in [columns] and in [constants]; keep one"),
                ));
            }
            let mapped = self.map_value(c, value);
            crate::convert::check_text_value(c, mapped).map_err(|e| {
                Self::err(
                    origin,
                    format!("[constants] {key} = {value:?}: {}", e.detail),
                )
            })?;
        }
        for (key, map) in &self.values {
            let c = Self::canonical_key(origin, "values", key)?;
            if !matches!(
                c.value_kind(),
                ValueKind::Channel
                    | ValueKind::Status
                    | ValueKind::PartyKind
                    | ValueKind::Currency
                    | ValueKind::Country
            ) {
                return Err(Self::err(
                    origin,
                    format!(
                        "[values.{key}]: value maps apply to channel, status, kinds, currency and country columns only"
                    ),
                ));
            }
            for (from, to) in map {
                crate::convert::check_text_value(c, to).map_err(|e| {
                    Self::err(
                        origin,
                        format!("[values.{key}] {from:?} = {to:?}: {}", e.detail),
                    )
                })?;
            }
        }
        if self.timestamp.is_some()
            && (self.columns.contains_key("ts") || self.constants.contains_key("ts"))
        {
            return Err(Self::err(
                origin,
                "[timestamp] and columns.ts both give `ts`; keep one".into(),
            ));
        }
        if self.generate.txn_id.is_some()
            && (self.columns.contains_key("txn_id") || self.constants.contains_key("txn_id"))
        {
            return Err(Self::err(
                origin,
                "[generate] txn_id and a txn_id column are both given; keep one".into(),
            ));
        }
        if let Some(st) = &self.statement {
            if st.account_name.is_some() != st.counterparty_name.is_some() {
                return Err(Self::err(
                    origin,
                    "[statement] names need both account_name and counterparty_name: the \
                     sign of the amount says which of them paid"
                        .into(),
                ));
            }
            if st.debit_credit.is_some() && (st.debit.is_empty() || st.credit.is_empty()) {
                return Err(Self::err(
                    origin,
                    "[statement] debit_credit needs the values that mean each way: debit = \
                     [\"S\", \"D\"] and credit = [\"H\", \"C\"], for example"
                        .into(),
                ));
            }
            if st.debit_credit.is_none() && !(st.debit.is_empty() && st.credit.is_empty()) {
                return Err(Self::err(
                    origin,
                    "[statement] debit and credit values need the debit_credit column they \
                     are read from"
                        .into(),
                ));
            }
            if let Some(v) = st.debit.iter().find(|v| st.credit.contains(v)) {
                return Err(Self::err(
                    origin,
                    format!("[statement] {v:?} is both a debit and a credit value"),
                ));
            }
            if self.constants.contains_key("amount") {
                return Err(Self::err(
                    origin,
                    "[statement] reads who paid from the sign of the amount, so `amount` must \
                     be a column, not a constant"
                        .into(),
                ));
            }
            for (s, r, _, _) in st.pairs() {
                for c in [s, r] {
                    if self.columns.contains_key(c.name()) || self.constants.contains_key(c.name())
                    {
                        return Err(Self::err(
                            origin,
                            format!(
                                "`{}` is given by [statement] (account or counterparty, by the \
                                 sign of the amount) and by [columns] or [constants]; keep one",
                                c.name()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn single_byte(origin: &str, what: &str, s: &str) -> Result<u8> {
        let s = if s == "\\t" { "\t" } else { s };
        match s.as_bytes() {
            [b] if b.is_ascii() && *b != b'"' && *b != b'\n' && *b != b'\r' => Ok(*b),
            _ => Err(Self::err(
                origin,
                format!("{what} {s:?} must be one ASCII character (not a quote or line break)"),
            )),
        }
    }

    pub(crate) fn delimiter_byte(&self, origin: &str) -> Result<u8> {
        Self::single_byte(origin, "delimiter", &self.delimiter)
    }

    pub(crate) fn decimal_byte(&self, origin: &str) -> Result<u8> {
        let b = Self::single_byte(origin, "decimal_separator", &self.decimal_separator)?;
        if b != b'.' && b != b',' {
            return Err(Self::err(
                origin,
                format!(
                    "decimal_separator {:?} must be \".\" or \",\"",
                    self.decimal_separator
                ),
            ));
        }
        Ok(b)
    }

    /// The timestamp parser the profile asks for.
    pub fn timestamp_parser(&self) -> TimestampParser {
        TimestampParser {
            zone: Zone::parse(&self.timezone).unwrap_or(Zone::Utc),
            format: self.timestamp_format.clone(),
        }
    }

    /// The source header for a canonical column: the mapped one, else the canonical name.
    pub fn source_header(&self, c: Column) -> &str {
        self.columns
            .get(c.name())
            .map(String::as_str)
            .unwrap_or(c.name())
    }

    /// Applies the column's value map to a source value.
    pub fn map_value<'a>(&'a self, c: Column, v: &'a str) -> &'a str {
        self.values
            .get(c.name())
            .and_then(|m| m.get(v))
            .map(String::as_str)
            .unwrap_or(v)
    }

    /// The profile as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_validate() {
        for (name, _) in BUILTIN_PROFILES {
            let p = MappingProfile::builtin(name).expect(name);
            assert_eq!(&p.name, name);
        }
        let aml = MappingProfile::builtin("amlworld").expect("amlworld");
        assert_eq!(aml.source_header(Column::ReceiverId), "Account.1");
        assert_eq!(aml.map_value(Column::Channel, "Wire"), "wire_domestic");
        assert_eq!(aml.map_value(Column::Currency, "US Dollar"), "USD");
    }

    #[test]
    fn refuses_protected_unknown_and_bad_values() {
        let cases = [
            (
                "name='x'\n[columns]\nnationality='Nat'",
                "protected attribute",
            ),
            ("name='x'\n[columns]\nfoo='Foo'", "not a canonical column"),
            ("name='x'\n[columns]\namount_base='A'", "derived at load"),
            (
                "name='x'\n[values.channel]\n'Wire'='telegraph'",
                "unknown channel value",
            ),
            ("name='x'\n[values.sender_id]\n'a'='b'", "value maps apply"),
            ("name='x'\ndelimiter=';;'", "one ASCII character"),
            ("name='x'\ntimezone='Mars/Olympus'", "IANA name"),
            ("name='x'\nbogus=1", "unknown field"),
            ("name='x'\n[constants]\ncurrency='US$'", "ISO 4217"),
            (
                "name='x'\ntimestamp_format='epoch_minutes'",
                "expected one of epoch_s, epoch_ms",
            ),
        ];
        for (text, want) in cases {
            let e = MappingProfile::from_toml(text, "test.toml").expect_err(text);
            let msg = e.to_string();
            assert!(msg.contains(want), "{text}: {msg}");
            assert!(msg.starts_with("mapping profile test.toml"), "{msg}");
        }
    }

    #[test]
    fn round_trips_through_toml() {
        let p = MappingProfile::builtin("saml-d").expect("saml-d");
        let again = MappingProfile::from_toml(&p.to_toml(), "again").expect("again");
        assert_eq!(p, again);
    }
}
