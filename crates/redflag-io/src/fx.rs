//! Conversion to the run's base currency from a rates file.
//!
//! The rates file is CSV with the header `date,currency,rate_to_base`: one base-currency unit
//! per currency unit, valid from `date` (`YYYY-MM-DD`) until the next row of that currency. A
//! transaction uses the latest rate on or before its UTC date. Amounts already in the base
//! currency need no rate.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::csv::next_record;
use crate::error::{Error, Result};
use crate::parse::{TimestampParser, Zone, is_currency};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Rates to a base currency.
#[derive(Debug, Clone)]
pub struct RateTable {
    base: String,
    /// Per currency: (day since epoch, rate), sorted by day.
    rates: HashMap<String, Vec<(i64, f64)>>,
    sha256: Option<String>,
}

impl RateTable {
    /// No rates: only amounts in `base` convert.
    pub fn base_only(base: &str) -> Result<Self> {
        if !is_currency(base) {
            return Err(Error::Option(format!(
                "base currency {base:?} is not an ISO 4217 code like USD"
            )));
        }
        Ok(Self {
            base: base.to_owned(),
            rates: HashMap::new(),
            sha256: None,
        })
    }

    /// Reads a rates file.
    pub fn from_file(path: &Path, base: &str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut table = Self::from_csv(&bytes, path, base)?;
        table.sha256 = Some(hex(&Sha256::digest(&bytes)));
        Ok(table)
    }

    fn from_csv(bytes: &[u8], path: &Path, base: &str) -> Result<Self> {
        let mut table = Self::base_only(base)?;
        let err = |line: u64, message: String| Error::Rates {
            path: path.to_owned(),
            line,
            message,
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text =
            std::str::from_utf8(bytes).map_err(|e| err(1, format!("not UTF-8 text ({e})")))?;
        let buf = text.as_bytes();
        let mut fields = Vec::new();
        let mut pos = 0;
        let mut line = 1u64;
        let mut header_seen = false;
        let dates = TimestampParser::iso(Zone::Utc);
        while pos < buf.len() {
            let r = next_record(buf, pos, b',', &mut fields);
            pos = r.next;
            let this_line = line;
            line += 1 + r.inner_newlines;
            let f: Vec<&str> = fields.iter().map(|f| text[f.start..f.end].trim()).collect();
            if f.len() == 1 && f[0].is_empty() {
                continue;
            }
            if !header_seen {
                header_seen = true;
                if f != ["date", "currency", "rate_to_base"] {
                    return Err(err(
                        this_line,
                        format!(
                            "header is {:?}; expected date,currency,rate_to_base",
                            f.join(",")
                        ),
                    ));
                }
                continue;
            }
            if f.len() != 3 {
                return Err(err(
                    this_line,
                    format!(
                        "expected 3 fields (date,currency,rate_to_base), found {}",
                        f.len()
                    ),
                ));
            }
            let day = dates
                .parse(f[0])
                .ok()
                .filter(|_| f[0].len() == 10)
                .map(|micros| micros.div_euclid(MICROS_PER_DAY))
                .ok_or_else(|| err(this_line, format!("date {:?} is not YYYY-MM-DD", f[0])))?;
            if !is_currency(f[1]) {
                return Err(err(
                    this_line,
                    format!(
                        "currency {:?} is not an ISO 4217 code or asset ticker",
                        f[1]
                    ),
                ));
            }
            let rate = f[2]
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| {
                    err(
                        this_line,
                        format!("rate_to_base {:?} is not a positive number", f[2]),
                    )
                })?;
            let series = table.rates.entry(f[1].to_owned()).or_default();
            if series.iter().any(|(d, _)| *d == day) {
                return Err(err(
                    this_line,
                    format!("a second rate for {} on {}", f[1], f[0]),
                ));
            }
            series.push((day, rate));
        }
        for series in table.rates.values_mut() {
            series.sort_by_key(|(d, _)| *d);
        }
        Ok(table)
    }

    /// The base currency.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// SHA-256 of the rates file, when one was read.
    pub fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    /// The rate for `currency` at `ts_micros` (UTC), or `None` when there is none.
    pub fn rate(&self, currency: &str, ts_micros: i64) -> Option<f64> {
        self.series(currency).at(ts_micros)
    }

    /// The rates of `currency`, looked up once for many rows.
    pub(crate) fn series(&self, currency: &str) -> Series<'_> {
        if currency == self.base {
            return Series::Base;
        }
        match self.rates.get(currency) {
            Some(s) => Series::Dated(s),
            None => Series::Missing,
        }
    }

    /// Why [`RateTable::rate`] found nothing, for a reject's detail.
    pub fn missing_detail(&self, currency: &str, ts_micros: i64) -> String {
        let date = chrono::DateTime::from_timestamp_micros(ts_micros)
            .map(|d| d.date_naive().to_string())
            .unwrap_or_default();
        match self.rates.get(currency) {
            None if self.rates.is_empty() => format!(
                "currency {currency} is not the base currency {} and no rates file was given (--rates)",
                self.base
            ),
            None => format!("the rates file has no rate for {currency}"),
            Some(s) => format!(
                "the first rate for {currency} is dated after {date} (first: {})",
                s.first()
                    .and_then(|(d, _)| chrono::DateTime::from_timestamp(d * 86_400, 0))
                    .map(|d| d.date_naive().to_string())
                    .unwrap_or_default()
            ),
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rates of one currency (see [`RateTable::series`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Series<'r> {
    /// The base currency: rate 1.
    Base,
    /// (day since epoch, rate), sorted by day.
    Dated(&'r [(i64, f64)]),
    /// No rate at all.
    Missing,
}

impl Series<'_> {
    /// The latest rate on or before the UTC date of `ts_micros`.
    #[inline]
    pub(crate) fn at(self, ts_micros: i64) -> Option<f64> {
        match self {
            Series::Base => Some(1.0),
            Series::Missing => None,
            Series::Dated(series) => {
                let day = ts_micros.div_euclid(MICROS_PER_DAY);
                let idx = series.partition_point(|(d, _)| *d <= day);
                idx.checked_sub(1).map(|i| series[i].1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        TimestampParser::iso(Zone::Utc).parse(s).expect("ts")
    }

    #[test]
    fn latest_rate_on_or_before_the_date() {
        let csv = b"date,currency,rate_to_base\n2024-01-01,EUR,1.10\n2024-02-01,EUR,1.20\n2024-01-01,BTC,40000\n";
        let t = RateTable::from_csv(csv, Path::new("rates.csv"), "USD").expect("rates");
        assert_eq!(t.rate("USD", ts("2020-01-01")), Some(1.0));
        assert_eq!(t.rate("EUR", ts("2024-01-31T23:59:59Z")), Some(1.10));
        assert_eq!(t.rate("EUR", ts("2024-02-01T00:00:00Z")), Some(1.20));
        assert_eq!(t.rate("EUR", ts("2023-12-31T23:59:59Z")), None);
        assert_eq!(t.rate("GBP", ts("2024-03-01")), None);
        assert!(t.missing_detail("GBP", 0).contains("no rate for GBP"));
        assert!(
            t.missing_detail("EUR", ts("2023-06-01"))
                .contains("first: 2024-01-01")
        );
    }

    #[test]
    fn bad_rates_files_name_the_line() {
        let cases: [(&[u8], &str); 4] = [
            (b"day,cur,rate\n", "rates.csv:1: header"),
            (
                b"date,currency,rate_to_base\n2024-01-01,EUR,-1\n",
                "rates.csv:2: rate_to_base",
            ),
            (
                b"date,currency,rate_to_base\n\n2024-13-01,EUR,1\n",
                "rates.csv:3: date",
            ),
            (
                b"date,currency,rate_to_base\n2024-01-01,eur,1\n",
                "rates.csv:2: currency",
            ),
        ];
        for (csv, want) in cases {
            let e = RateTable::from_csv(csv, Path::new("rates.csv"), "USD").expect_err(want);
            assert!(e.to_string().starts_with(want), "{e}");
        }
    }
}
