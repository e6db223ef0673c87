//! Parsers for single text values: timestamps, amounts, codes.
//!
//! Each returns the parsed value or a [`ValueError`] that says what was expected. They are the
//! one place where text becomes typed data, shared by the CSV, NDJSON and Parquet paths.

use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _};

use crate::reject::RejectReason;

/// A value that failed to parse: the reason code and a message naming what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueError {
    /// The reason code.
    pub reason: RejectReason,
    /// What was found and what was expected.
    pub detail: String,
}

impl ValueError {
    pub(crate) fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// The time zone in which naive timestamps (no `Z`, no offset) and dates are read.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    /// UTC.
    Utc,
    /// A fixed offset east of UTC, in seconds.
    Fixed(i32),
    /// An IANA zone with daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses `UTC`, a fixed offset (`+02:00`, `-0530`) or an IANA name (`Europe/Berlin`).
    pub fn parse(text: &str) -> Option<Zone> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Some(Zone::Utc);
        }
        if let Some(secs) = parse_offset(t.as_bytes()) {
            return Some(if secs == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(secs)
            });
        }
        t.parse::<chrono_tz::Tz>().ok().map(Zone::Named)
    }

    /// Converts a local wall-clock time in this zone to UTC microseconds.
    fn localize(&self, local_micros: i64) -> Result<i64, ValueError> {
        match self {
            Zone::Utc => Ok(local_micros),
            Zone::Fixed(secs) => Ok(local_micros - i64::from(*secs) * MICROS_PER_SEC),
            Zone::Named(tz) => {
                let secs = local_micros.div_euclid(MICROS_PER_SEC);
                let sub = local_micros.rem_euclid(MICROS_PER_SEC);
                let naive = chrono::DateTime::from_timestamp(secs, 0)
                    .map(|d| d.naive_utc())
                    .ok_or_else(|| {
                        ValueError::new(RejectReason::BadTimestamp, "timestamp out of range")
                    })?;
                match tz.from_local_datetime(&naive) {
                    LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => {
                        Ok(dt.timestamp() * MICROS_PER_SEC + sub)
                    }
                    LocalResult::None => Err(ValueError::new(
                        RejectReason::BadTimestamp,
                        format!(
                            "local time {naive} does not exist in time zone {tz} (skipped by a daylight-saving change)"
                        ),
                    )),
                }
            }
        }
    }
}

/// How timestamps are read: the zone of naive values and an optional strftime format.
#[derive(Debug, Clone)]
pub struct TimestampParser {
    /// Zone of naive timestamps and of dates without a time.
    pub zone: Zone,
    /// A chrono strftime format (e.g. `%Y/%m/%d %H:%M`), or one of [`EPOCH_FORMATS`] for Unix
    /// times; `None` reads RFC 3339 / ISO 8601.
    pub format: Option<String>,
}

/// The `timestamp_format` values that read Unix times (UTC by definition, whatever the
/// profile's zone), with the microseconds in one unit as a fraction (numerator, denominator).
/// A value may carry a decimal fraction (`1709331245.25` in seconds).
pub const EPOCH_FORMATS: [(&str, i128, i128); 4] = [
    ("epoch_s", 1_000_000, 1),
    ("epoch_ms", 1_000, 1),
    ("epoch_us", 1, 1),
    ("epoch_ns", 1, 1_000),
];

/// The Unix-time unit a `timestamp_format` names, if it names one.
pub(crate) fn epoch_unit(format: &str) -> Option<(&'static str, i128, i128)> {
    EPOCH_FORMATS
        .iter()
        .copied()
        .find(|(name, _, _)| *name == format)
}

/// Unix times outside 1900-01-01 .. 2200-01-01 are refused: such a value is almost always
/// in another unit than the profile says.
const EPOCH_RANGE_MICROS: std::ops::Range<i64> = -2_208_988_800_000_000..7_258_118_400_000_000;

/// A Unix time `t` (digits, optional sign and decimal fraction) in the unit `(name, num, den)`
/// to UTC microseconds (truncated toward the past).
fn parse_epoch(t: &str, (name, num, den): (&str, i128, i128)) -> Result<i64, ValueError> {
    let bad = || {
        ValueError::new(
            RejectReason::BadTimestamp,
            format!(
                "unparseable timestamp {t:?}; expected the profile's timestamp_format {name:?}: a Unix time such as 1709331245 (seconds), 1709331245000 (milliseconds)"
            ),
        )
    };
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return Err(bad());
    }
    // Fraction digits past nanoseconds cannot change a microsecond. More than 19 whole digits
    // is out of range in any unit (and would overflow the arithmetic below).
    let frac = &frac[..frac.len().min(9)];
    let scale = 10i128.pow(frac.len() as u32);
    let micros = (whole.len() <= 19).then(|| {
        let whole: i128 = whole.parse().unwrap_or_default();
        let frac: i128 = frac.parse().unwrap_or_default();
        let value = whole * scale + frac;
        let value = if neg { -value } else { value };
        (value * num).div_euclid(den * scale)
    });
    match micros.and_then(|m| i64::try_from(m).ok()) {
        Some(m) if EPOCH_RANGE_MICROS.contains(&m) => Ok(m),
        _ => {
            let hint = match name {
                "epoch_s" => "; is it in milliseconds (timestamp_format = \"epoch_ms\")?",
                "epoch_ms" => "; is it in seconds (\"epoch_s\") or microseconds (\"epoch_us\")?",
                _ => "; is it in another unit (epoch_s, epoch_ms, epoch_us, epoch_ns)?",
            };
            Err(ValueError::new(
                RejectReason::BadTimestamp,
                format!(
                    "timestamp {t:?} read as {name} falls outside the years 1900 to 2199{hint}"
                ),
            ))
        }
    }
}

const TS_EXPECTED: &str = "expected RFC 3339 like 2024-03-01T22:14:05Z or 2024-03-01T23:14:05+01:00, a naive 2024-03-01 22:14:05, or a date 2024-03-01";

impl TimestampParser {
    /// ISO 8601 / RFC 3339 in the given zone.
    pub fn iso(zone: Zone) -> Self {
        Self { zone, format: None }
    }

    /// Converts a naive (local wall-clock) time in microseconds to UTC microseconds.
    pub(crate) fn zone_localize(&self, local_micros: i64) -> Result<i64, ValueError> {
        self.zone.localize(local_micros)
    }

    /// Parses one timestamp to UTC microseconds.
    pub fn parse(&self, text: &str) -> Result<i64, ValueError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(ValueError::new(
                RejectReason::MissingField,
                "empty timestamp",
            ));
        }
        if let Some(unit) = self.format.as_deref().and_then(epoch_unit) {
            return parse_epoch(t, unit);
        }
        let parsed = match &self.format {
            None => parse_iso(t.as_bytes()),
            Some(fmt) => parse_with_format(t, fmt),
        };
        match parsed {
            Some((micros, Some(offset_secs))) => {
                Ok(micros - i64::from(offset_secs) * MICROS_PER_SEC)
            }
            Some((micros, None)) => self.zone.localize(micros),
            None => {
                let mut expected = match &self.format {
                    None => TS_EXPECTED.to_owned(),
                    Some(f) => format!("expected the profile's timestamp_format {f:?}"),
                };
                // A bare number of 9 or more digits is a Unix time far more often than a date.
                if t.len() >= 9 && t.bytes().all(|b| b.is_ascii_digit()) {
                    expected.push_str(
                        "; a number like this looks like a Unix time: set timestamp_format = \"epoch_s\" (or \"epoch_ms\", \"epoch_us\", \"epoch_ns\") in the mapping profile",
                    );
                }
                Err(ValueError::new(
                    RejectReason::BadTimestamp,
                    format!("unparseable timestamp {t:?}; {expected}"),
                ))
            }
        }
    }

    /// Parses a date column and a time column into UTC microseconds.
    pub fn parse_date_time(
        &self,
        date: &str,
        time: &str,
        date_format: Option<&str>,
        time_format: Option<&str>,
    ) -> Result<i64, ValueError> {
        let (d, t) = (date.trim(), time.trim());
        if d.is_empty() || t.is_empty() {
            return Err(ValueError::new(
                RejectReason::MissingField,
                "empty date or time",
            ));
        }
        let day = match date_format {
            None => parse_date(d.as_bytes()),
            Some(f) => NaiveDate::parse_from_str(d, f)
                .ok()
                .map(|nd| days_from_civil(i64::from(nd.year()), nd.month(), nd.day())),
        };
        let tod = match time_format {
            None => parse_time(t.as_bytes()),
            Some(f) => NaiveTime::parse_from_str(t, f).ok().map(|nt| {
                use chrono::Timelike;
                i64::from(nt.num_seconds_from_midnight()) * MICROS_PER_SEC
                    + i64::from(nt.nanosecond() / 1000)
            }),
        };
        match (day, tod) {
            (Some(day), Some(tod)) => self.zone.localize(day * MICROS_PER_DAY + tod),
            _ => Err(ValueError::new(
                RejectReason::BadTimestamp,
                format!(
                    "unparseable date {d:?} / time {t:?}; expected {} and {}",
                    date_format.unwrap_or("2024-03-01"),
                    time_format.unwrap_or("22:14:05")
                ),
            )),
        }
    }
}

fn parse_with_format(t: &str, fmt: &str) -> Option<(i64, Option<i32>)> {
    if fmt.contains("%z") || fmt.contains("%:z") || fmt.contains("%#z") {
        let dt = chrono::DateTime::parse_from_str(t, fmt).ok()?;
        let micros = dt.timestamp_micros() + i64::from(dt.offset().local_minus_utc()) * 1_000_000;
        return Some((micros, Some(dt.offset().local_minus_utc())));
    }
    if let Ok(ndt) = NaiveDateTime::parse_from_str(t, fmt) {
        return Some((ndt.and_utc().timestamp_micros(), None));
    }
    let nd = NaiveDate::parse_from_str(t, fmt).ok()?;
    Some((
        nd.and_time(NaiveTime::MIN).and_utc().timestamp_micros(),
        None,
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `YYYY-MM-DD` to days since the epoch.
fn parse_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = i64::from(digits(&b[0..4])?);
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `HH:MM[:SS[.fraction]]` to microseconds since midnight.
fn parse_time(b: &[u8]) -> Option<i64> {
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let h = digits(&b[0..2])?;
    let mi = digits(&b[3..5])?;
    let (s, rest) = if b.len() >= 8 && b[5] == b':' {
        (digits(&b[6..8])?, &b[8..])
    } else {
        (0, &b[5..])
    };
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut micros = 0i64;
    if !rest.is_empty() {
        if rest[0] != b'.' && rest[0] != b',' {
            return None;
        }
        let frac = &rest[1..];
        if frac.is_empty() || frac.len() > 9 {
            return None;
        }
        let v = digits(frac)?;
        let scale = 10i64.pow(u32::try_from(frac.len()).ok()?);
        micros = i64::from(v) * 1_000_000 / scale;
    }
    Some(
        (i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s.min(59))) * MICROS_PER_SEC + micros,
    )
}

/// `Z`, `±HH:MM`, `±HHMM` or `±HH` to seconds east of UTC.
fn parse_offset(b: &[u8]) -> Option<i32> {
    if b == b"Z" || b == b"z" {
        return Some(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let r = &b[1..];
    let (h, m) = match r.len() {
        2 => (digits(r)?, 0),
        4 => (digits(&r[0..2])?, digits(&r[2..4])?),
        5 if r[2] == b':' => (digits(&r[0..2])?, digits(&r[3..5])?),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * i32::try_from(h * 3600 + m * 60).ok()?)
}

/// RFC 3339 / ISO 8601: returns local micros and the explicit offset, if any.
fn parse_iso(b: &[u8]) -> Option<(i64, Option<i32>)> {
    let day = parse_date(b.get(0..10)?)?;
    if b.len() == 10 {
        return Some((day * MICROS_PER_DAY, None));
    }
    if b[10] != b'T' && b[10] != b't' && b[10] != b' ' {
        return None;
    }
    let rest = &b[11..];
    // The time runs up to the first zone designator.
    let zpos = rest
        .iter()
        .position(|&c| matches!(c, b'Z' | b'z' | b'+' | b'-' | b' '))
        .unwrap_or(rest.len());
    let tod = parse_time(&rest[..zpos])?;
    let mut zone = &rest[zpos..];
    if zone.first() == Some(&b' ') {
        zone = &zone[1..];
        if zone.eq_ignore_ascii_case(b"utc") {
            zone = b"Z";
        }
    }
    let offset = if zone.is_empty() {
        None
    } else {
        Some(parse_offset(zone)?)
    };
    Some((day * MICROS_PER_DAY + tod, offset))
}

/// Parses an amount: a positive, finite decimal number (`12.50`, `1e3`).
///
/// `decimal` is the decimal separator (`.` or `,`); with `,` a `.` is refused, so that
/// thousands separators are never misread.
pub fn parse_amount(text: &str, decimal: u8) -> Result<f64, ValueError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ValueError::new(RejectReason::MissingField, "empty amount"));
    }
    match parse_decimal(t, decimal) {
        None => Err(ValueError::new(
            RejectReason::BadAmount,
            format!(
                "amount {t:?} is not a number; expected a positive decimal like 12{}50",
                decimal as char
            ),
        )),
        Some(v) if !v.is_finite() => Err(ValueError::new(
            RejectReason::BadAmount,
            format!("amount {t:?} is not finite; expected a positive decimal number"),
        )),
        Some(v) if v <= 0.0 => Err(ValueError::new(
            RejectReason::BadAmount,
            format!(
                "amount {t:?} is not positive; expected a number > 0 (direction is given by sender and receiver)"
            ),
        )),
        Some(v) => Ok(v),
    }
}

/// Checks an amount that arrived as a number.
pub fn check_amount(v: f64) -> Result<f64, ValueError> {
    if !v.is_finite() {
        Err(ValueError::new(
            RejectReason::BadAmount,
            format!("amount {v} is not finite; expected a positive decimal number"),
        ))
    } else if v <= 0.0 {
        Err(ValueError::new(
            RejectReason::BadAmount,
            format!("amount {v} is not positive; expected a number > 0"),
        ))
    } else {
        Ok(v)
    }
}

/// A decimal number written with `decimal` as its separator (`1234,50` with a comma; a
/// thousands separator is not a number).
fn parse_decimal(t: &str, decimal: u8) -> Option<f64> {
    if decimal == b'.' {
        t.parse::<f64>().ok()
    } else if t.contains('.') {
        None
    } else {
        t.replace(decimal as char, ".").parse::<f64>().ok()
    }
}

/// A statement's signed amount (see [`crate::Statement`]): `-12.50`, `+12.50`, `12.50`, or
/// `12.50-` with the minus at the end as some bank exports write debits. Negative means the
/// statement's account paid. Zero moves no money and is refused.
pub fn parse_signed_amount(text: &str, decimal: u8) -> Result<f64, ValueError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ValueError::new(RejectReason::MissingField, "empty amount"));
    }
    let (negative, digits) = match (t.strip_prefix('-'), t.strip_suffix('-')) {
        (Some(d), _) | (None, Some(d)) => (true, d),
        (None, None) => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let sep = decimal as char;
    match parse_decimal(digits, decimal) {
        Some(v) if v.is_finite() && v > 0.0 => Ok(if negative { -v } else { v }),
        Some(0.0) => Err(ValueError::new(
            RejectReason::BadAmount,
            format!(
                "amount {t:?} moves no money; expected a signed amount like -12{sep}50 (paid by \
                 the account) or 12{sep}50 (paid in)"
            ),
        )),
        _ => Err(ValueError::new(
            RejectReason::BadAmount,
            format!(
                "amount {t:?} is not a number; expected a signed amount like -12{sep}50 (paid by \
                 the account) or 12{sep}50 (paid in)"
            ),
        )),
    }
}

/// An ISO 4217 code or asset ticker: 2 to 10 of `A-Z0-9`, starting with a letter.
pub fn is_currency(t: &str) -> bool {
    let b = t.as_bytes();
    (2..=10).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// ISO 3166-1 alpha-2: two upper-case letters.
pub fn is_country(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 2 && b.iter().all(u8::is_ascii_uppercase)
}

/// An MCC: 1 to 4 digits (leading zeros may have been lost), 0000–9999.
pub fn parse_mcc(t: &str) -> Option<u16> {
    let t = t.trim();
    if t.is_empty() || t.len() > 4 {
        return None;
    }
    digits(t.as_bytes()).and_then(|v| u16::try_from(v).ok())
}

/// A signed integer in a range.
pub fn parse_int_in(t: &str, lo: i64, hi: i64) -> Option<i64> {
    t.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(t: &str) -> Result<i64, ValueError> {
        TimestampParser::iso(Zone::Utc).parse(t)
    }

    #[test]
    fn iso_forms_agree_with_chrono() {
        let want = chrono::DateTime::parse_from_rfc3339("2024-03-01T22:14:05Z")
            .expect("valid")
            .timestamp_micros();
        assert_eq!(utc("2024-03-01T22:14:05Z"), Ok(want));
        assert_eq!(utc("2024-03-01 22:14:05"), Ok(want));
        assert_eq!(utc("2024-03-01T23:14:05+01:00"), Ok(want));
        assert_eq!(utc("2024-03-01T17:14:05-0500"), Ok(want));
        assert_eq!(utc("2024-03-01T22:14:05.250Z"), Ok(want + 250_000));
        assert_eq!(utc("2024-03-01T22:14Z"), Ok(want - 5_000_000));
        assert_eq!(utc("2024-03-01 22:14:05 UTC"), Ok(want));
        assert_eq!(
            utc("2024-03-01"),
            Ok(want - (22 * 3600 + 14 * 60 + 5) * 1_000_000)
        );
        for d in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (1969, 7, 20)] {
            let nd = NaiveDate::from_ymd_opt(d.0, d.1, d.2).expect("date");
            let want = nd.and_time(NaiveTime::MIN).and_utc().timestamp_micros();
            assert_eq!(utc(&nd.to_string()), Ok(want), "{nd}");
        }
    }

    #[test]
    fn bad_timestamps_are_refused_with_what_was_expected() {
        for bad in [
            "2024-02-30",
            "2023-02-29",
            "2024-13-01T00:00:00Z",
            "2024-03-01T24:00:00Z",
            "01/03/2024",
            "2024-03-01T22:14:05+25:00",
            "yesterday",
        ] {
            let e = utc(bad).expect_err(bad);
            assert_eq!(e.reason, RejectReason::BadTimestamp, "{bad}");
            assert!(e.detail.contains("expected RFC 3339"), "{}", e.detail);
        }
        assert_eq!(
            utc("").expect_err("empty").reason,
            RejectReason::MissingField
        );
    }

    #[test]
    fn unix_times_in_every_unit_are_utc_whatever_the_zone() {
        let want = utc("2024-03-01T22:14:05Z").expect("valid");
        let epoch = |unit: &str| TimestampParser {
            // A zone that would move a naive time: Unix times are UTC already.
            zone: Zone::parse("Europe/Berlin").expect("tz"),
            format: Some(unit.to_owned()),
        };
        assert_eq!(epoch("epoch_s").parse("1709331245"), Ok(want));
        assert_eq!(
            epoch("epoch_s").parse(" 1709331245.25 "),
            Ok(want + 250_000)
        );
        assert_eq!(epoch("epoch_ms").parse("1709331245123"), Ok(want + 123_000));
        assert_eq!(
            epoch("epoch_us").parse("1709331245123456"),
            Ok(want + 123_456)
        );
        assert_eq!(
            epoch("epoch_ns").parse("1709331245123456789"),
            Ok(want + 123_456)
        );
        // Before 1970, and truncated toward the past like the other units.
        assert_eq!(epoch("epoch_s").parse("-1"), Ok(-1_000_000));
        assert_eq!(epoch("epoch_ms").parse("-0.5"), Ok(-500));
        assert_eq!(epoch("epoch_us").parse("-0.5"), Ok(-1));
        assert_eq!(epoch("epoch_ns").parse("1999"), Ok(1));

        // Milliseconds read as seconds: out of range, with the likely fix.
        let e = epoch("epoch_s")
            .parse("1709331245123")
            .expect_err("year 56000");
        assert_eq!(e.reason, RejectReason::BadTimestamp);
        assert!(
            e.detail.contains("outside the years 1900 to 2199") && e.detail.contains("epoch_ms"),
            "{}",
            e.detail
        );
        // Far too many digits for any unit: out of range, not an overflow.
        let e = epoch("epoch_s")
            .parse("170933124512345678901234567890")
            .expect_err("too long");
        assert!(e.detail.contains("outside the years"), "{}", e.detail);
        for bad in ["17093312x5", "2024-03-01", "1e9", "", "-", "1.2.3"] {
            let e = epoch("epoch_s").parse(bad).expect_err(bad);
            assert!(
                bad.is_empty() || e.detail.contains("a Unix time such as"),
                "{bad}: {}",
                e.detail
            );
        }
        // Without the format, a Unix time is refused with the setting that reads it.
        let e = utc("1709331245").expect_err("no format");
        assert!(
            e.detail.contains("timestamp_format = \"epoch_s\""),
            "{}",
            e.detail
        );
        let e = utc("12345678").expect_err("not a date either");
        assert!(!e.detail.contains("epoch_s"), "{}", e.detail);
    }

    #[test]
    fn naive_times_use_the_profile_zone() {
        let berlin = TimestampParser::iso(Zone::parse("Europe/Berlin").expect("tz"));
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            berlin.parse("2024-01-15 10:00:00"),
            utc("2024-01-15T09:00:00Z")
        );
        assert_eq!(
            berlin.parse("2024-07-15 10:00:00"),
            utc("2024-07-15T08:00:00Z")
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            berlin.parse("2024-07-15T10:00:00Z"),
            utc("2024-07-15T10:00:00Z")
        );
        // 02:30 on the spring-forward night does not exist in Berlin.
        let gap = berlin.parse("2024-03-31 02:30:00").expect_err("gap");
        assert!(gap.detail.contains("does not exist"), "{}", gap.detail);
        let fixed = TimestampParser::iso(Zone::parse("-05:00").expect("offset"));
        assert_eq!(fixed.parse("2024-01-15"), utc("2024-01-15T05:00:00Z"));
    }

    #[test]
    fn custom_formats_and_date_time_columns() {
        let p = TimestampParser {
            zone: Zone::Utc,
            format: Some("%Y/%m/%d %H:%M".into()),
        };
        assert_eq!(p.parse("2022/09/01 00:20"), utc("2022-09-01T00:20:00Z"));
        assert!(p.parse("2022-09-01 00:20").is_err());
        let q = TimestampParser::iso(Zone::Utc);
        assert_eq!(
            q.parse_date_time("2022-10-07", "10:35:19", None, None),
            utc("2022-10-07T10:35:19Z")
        );
        assert_eq!(
            q.parse_date_time("07.10.2022", "10:35", Some("%d.%m.%Y"), Some("%H:%M")),
            utc("2022-10-07T10:35:00Z")
        );
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1e3", b'.'), Ok(1000.0));
        assert_eq!(parse_amount(" 12.50 ", b'.'), Ok(12.5));
        assert_eq!(parse_amount("12,50", b','), Ok(12.5));
        assert_eq!(
            parse_amount("1.200,50", b',')
                .expect_err("thousands")
                .reason,
            RejectReason::BadAmount
        );
        for bad in ["-5", "0", "NaN", "inf", "12,50", "abc"] {
            assert_eq!(
                parse_amount(bad, b'.').expect_err(bad).reason,
                RejectReason::BadAmount,
                "{bad}"
            );
        }
        assert_eq!(
            parse_amount("", b'.').expect_err("empty").reason,
            RejectReason::MissingField
        );
    }

    #[test]
    fn codes() {
        assert!(is_currency("USD") && is_currency("USDT") && is_currency("BTC"));
        assert!(!is_currency("usd") && !is_currency("U") && !is_currency("US D"));
        assert!(is_country("DE") && !is_country("DEU") && !is_country("de"));
        assert_eq!(parse_mcc("7011"), Some(7011));
        assert_eq!(parse_mcc("742"), Some(742));
        assert_eq!(parse_mcc("70111"), None);
        assert_eq!(parse_int_in("-300", -840, 840), Some(-300));
        assert_eq!(parse_int_in("900", -840, 840), None);
    }
}
