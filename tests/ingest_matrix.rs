//! The bad-input matrix of issue 2: each case with its exact accepted / rejected counts and
//! reasons.

use std::path::PathBuf;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use redflag_io::{MappingProfile, RejectReason};
use redflag_schema::Text;

use crate::util::{ingest_with, reasons};

const HEADER: &str = "txn_id,ts,sender_id,receiver_id,amount,currency,channel";

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

/// Ingests one file; returns (read, accepted, rejected) and the rejects.
fn run(
    bytes: &[u8],
) -> (
    (u64, u64, u64),
    Vec<redflag_io::Reject>,
    redflag_io::Ingested,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(&dir, "t.csv", bytes);
    let (got, rejects) = ingest_with(&[&p], MappingProfile::canonical(), None).expect("ingest");
    let r = &got.report;
    ((r.rows_read, r.accepted, r.rejected), rejects, got)
}

fn f64_column(got: &redflag_io::Ingested, name: &str) -> Vec<f64> {
    got.batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(name)
                .expect(name)
                .as_primitive::<Float64Type>()
                .clone();
            (0..a.len()).map(move |i| a.value(i))
        })
        .collect()
}

fn ts_column(got: &redflag_io::Ingested) -> Vec<i64> {
    got.batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name("ts")
                .expect("ts")
                .as_primitive::<TimestampMicrosecondType>()
                .clone();
            (0..a.len()).map(move |i| a.value(i))
        })
        .collect()
}

#[test]
fn crlf_line_ends() {
    let text = format!(
        "{HEADER}\r\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach\r\nT2,2024-03-01T11:00:00Z,A,B,20,USD,wire_domestic\r\n"
    );
    let (counts, rejects, got) = run(text.as_bytes());
    assert_eq!(counts, (2, 2, 0), "{rejects:?}");
    assert_eq!(f64_column(&got, "amount"), [10.0, 20.0]);
}

#[test]
fn utf8_bom() {
    let text = format!("\u{feff}{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach\n");
    let (counts, rejects, _) = run(text.as_bytes());
    assert_eq!(counts, (1, 1, 0), "{rejects:?}");
}

#[test]
fn quoted_fields_with_commas_quotes_and_newlines_keep_line_numbers() {
    let text = format!(
        "{HEADER},merchant_name\n\
         T1,2024-03-01T10:00:00Z,\"A, Inc.\",B,10,USD,card_present,\"Joe's \"\"Diner\"\",\nMain St\"\n\
         T2,2024-03-01T10:00:00Z,A,B,-1,USD,ach,\n"
    );
    let (counts, rejects, got) = run(text.as_bytes());
    assert_eq!(counts, (2, 1, 1));
    // T2 starts on line 4: the header is line 1, T1 spans lines 2 and 3.
    assert_eq!(reasons(&rejects), [(4, "amount", RejectReason::BadAmount)]);
    let b = &got.batches[0];
    assert_eq!(
        b.column_by_name("sender_id")
            .expect("s")
            .as_string::<i32>()
            .value(0),
        "A, Inc."
    );
    assert_eq!(
        Text::of(b.column_by_name("merchant_name").expect("m").as_ref())
            .expect("text")
            .value(0),
        "Joe's \"Diner\",\nMain St"
    );
}

#[test]
fn semicolon_file_with_decimal_commas_through_a_profile() {
    let profile = MappingProfile::from_toml(
        r#"
        name = "bank-de"
        delimiter = ";"
        decimal_separator = ","
        timezone = "Europe/Berlin"
        timestamp_format = "%d.%m.%Y %H:%M"
        [columns]
        txn_id = "Buchung"
        ts = "Zeit"
        sender_id = "Von"
        receiver_id = "An"
        amount = "Betrag"
        channel = "Art"
        [constants]
        currency = "EUR"
        [values.channel]
        "Überweisung" = "wire_domestic"
        "Bargeld" = "cash_deposit"
        "#,
        "bank-de.toml",
    )
    .expect("profile");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        &dir,
        "konto.csv",
        "Buchung;Zeit;Von;An;Betrag;Art\n\
         1;01.03.2024 10:00;DE01;DE02;1234,50;Überweisung\n\
         2;01.07.2024 10:00;CASH;DE02;9500;Bargeld\n\
         3;01.07.2024 10:00;CASH;DE02;1.234,50;Bargeld\n\
         4;01.07.2024 10:00;CASH;DE02;10;Scheck\n"
            .as_bytes(),
    );
    let rates = redflag_io::RateTable::base_only("EUR").expect("eur");
    let (got, rejects) = ingest_with(&[&p], profile, Some(rates)).expect("ingest");
    assert_eq!((got.report.rows_read, got.report.accepted), (4, 2));
    assert_eq!(
        reasons(&rejects),
        [
            (4, "Betrag", RejectReason::BadAmount),
            (5, "Art", RejectReason::UnknownEnumValue)
        ]
    );
    assert_eq!(f64_column(&got, "amount"), [1234.5, 9500.0]);
    // Berlin is UTC+1 in March and UTC+2 in July.
    assert_eq!(
        ts_column(&got),
        [1_709_283_600_000_000, 1_719_820_800_000_000]
    );
}

#[test]
fn empty_and_header_only_files_read_nothing_and_are_no_error() {
    let (counts, _, got) = run(b"");
    assert_eq!(counts, (0, 0, 0));
    assert!(got.report.files[0].error.is_none());
    let (counts, _, _) = run(format!("{HEADER}\n").as_bytes());
    assert_eq!(counts, (0, 0, 0));
    let (counts, _, _) = run(HEADER.as_bytes());
    assert_eq!(counts, (0, 0, 0));
}

#[test]
fn missing_required_column_is_an_error_naming_file_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        &dir,
        "no_amount.csv",
        b"txn_id,ts,sender_id,receiver_id,currency,channel\n",
    );
    let e = ingest_with(&[&p], MappingProfile::canonical(), None).expect_err("missing");
    let msg = e.to_string();
    assert!(
        msg.contains("no_amount.csv: missing required column `amount`"),
        "{msg}"
    );
}

#[test]
fn non_utf8_bytes_reject_one_record_naming_the_column() {
    let mut bytes = format!("{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach\n").into_bytes();
    bytes.extend_from_slice(b"T2,2024-03-01T10:00:00Z,A\xff\xfe,B,10,USD,ach\n");
    bytes.extend_from_slice(b"T3,2024-03-01T10:00:00Z,A,B,10,USD,ach\n");
    let (counts, rejects, _) = run(&bytes);
    assert_eq!(counts, (3, 2, 1));
    assert_eq!(
        reasons(&rejects),
        [(3, "sender_id", RejectReason::InvalidUtf8)]
    );
    assert!(rejects[0].record.contains('\u{fffd}'));
}

#[test]
fn truncated_last_record_and_open_quote_at_end() {
    let text =
        format!("{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach\nT2,2024-03-01T10:00:00Z,A,B");
    let (counts, rejects, _) = run(text.as_bytes());
    assert_eq!(counts, (2, 1, 1));
    assert_eq!(reasons(&rejects), [(3, "", RejectReason::TruncatedRecord)]);
    // A complete last record without a line end is fine.
    let text = format!("{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach");
    assert_eq!(run(text.as_bytes()).0, (1, 1, 0));
    let text = format!(
        "{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach\nT2,2024-03-01T10:00:00Z,\"A,B,10,USD,ach\n"
    );
    let (counts, rejects, _) = run(text.as_bytes());
    assert_eq!(counts, (2, 1, 1));
    assert_eq!(reasons(&rejects), [(3, "", RejectReason::TruncatedRecord)]);
}

#[test]
fn wrong_field_count() {
    let text = format!(
        "{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach,extra\nT2,2024-03-01T10:00:00Z,A,B,10,USD\nT3,2024-03-01T10:00:00Z,A,B,10,USD,ach\n"
    );
    let (counts, rejects, _) = run(text.as_bytes());
    assert_eq!(counts, (3, 1, 2));
    assert_eq!(
        reasons(&rejects),
        [
            (2, "", RejectReason::WrongFieldCount),
            (3, "", RejectReason::WrongFieldCount)
        ]
    );
    assert!(
        rejects[0].detail.contains("expected 7 fields"),
        "{}",
        rejects[0].detail
    );
}

#[test]
fn amounts() {
    let rows = ["1e3", "-5", "NaN", "", "0", "12.5", "inf", "abc"];
    let mut text = format!("{HEADER}\n");
    for (i, a) in rows.iter().enumerate() {
        text.push_str(&format!("T{i},2024-03-01T10:00:00Z,A,B,{a},USD,ach\n"));
    }
    let (counts, rejects, got) = run(text.as_bytes());
    assert_eq!(counts, (8, 2, 6));
    assert_eq!(f64_column(&got, "amount"), [1000.0, 12.5]);
    assert_eq!(f64_column(&got, "amount_base"), [1000.0, 12.5]);
    let r: Vec<_> = rejects.iter().map(|r| (r.line, r.reason)).collect();
    assert_eq!(
        r,
        [
            (3, RejectReason::BadAmount),
            (4, RejectReason::BadAmount),
            (5, RejectReason::MissingField),
            (6, RejectReason::BadAmount),
            (8, RejectReason::BadAmount),
            (9, RejectReason::BadAmount)
        ]
    );
}

#[test]
fn timestamps_with_offsets_naive_and_dates() {
    let rows = [
        "2024-03-01T22:14:05Z",
        "2024-03-01T23:14:05+01:00",
        "2024-03-01 22:14:05",
        "2024-03-01",
        "03/01/2024",
        "2024-02-30",
        "",
    ];
    let mut text = format!("{HEADER}\n");
    for (i, t) in rows.iter().enumerate() {
        text.push_str(&format!("T{i},{t},A,B,10,USD,ach\n"));
    }
    let (counts, rejects, got) = run(text.as_bytes());
    assert_eq!(counts, (7, 4, 3));
    let t = 1_709_331_245_000_000; // 2024-03-01T22:14:05Z
    assert_eq!(ts_column(&got), [t, t, t, 1_709_251_200_000_000]);
    let r: Vec<_> = rejects
        .iter()
        .map(|r| (r.line, r.column.as_str(), r.reason))
        .collect();
    assert_eq!(
        r,
        [
            (6, "ts", RejectReason::BadTimestamp),
            (7, "ts", RejectReason::BadTimestamp),
            (8, "ts", RejectReason::MissingField)
        ]
    );
    assert!(
        rejects[0].detail.contains("\"03/01/2024\""),
        "{}",
        rejects[0].detail
    );
}

#[test]
fn duplicate_ids_keep_the_first_and_unknown_channels_are_refused() {
    let text = format!(
        "{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach\nT1,2024-03-01T10:00:00Z,X,B,10,USD,ach\n\
         T2,2024-03-01T10:00:00Z,A,B,10,USD,Wire\nT3,2024-03-01T10:00:00Z,A,B,10,US$,ach\n\
         T4,2024-03-01T10:00:00Z,A,,10,USD,ach\n"
    );
    let (counts, rejects, got) = run(text.as_bytes());
    assert_eq!(counts, (5, 1, 4));
    assert_eq!(
        reasons(&rejects),
        [
            (3, "txn_id", RejectReason::DuplicateTxnId),
            (4, "channel", RejectReason::UnknownEnumValue),
            (5, "currency", RejectReason::BadCurrency),
            (6, "receiver_id", RejectReason::MissingField)
        ]
    );
    let s = got.batches[0]
        .column_by_name("sender_id")
        .expect("s")
        .as_string::<i32>()
        .clone();
    assert_eq!(s.value(0), "A", "the first T1 is kept");
    assert!(
        rejects[1].detail.contains("expected one of: cash_deposit"),
        "{}",
        rejects[1].detail
    );
    assert_eq!(rejects[0].record, "T1,2024-03-01T10:00:00Z,X,B,10,USD,ach");
}

/// Exports write codes and enum values in other cases: `usd`, `ACH`, `Card Present`. Each
/// is read as the one schema value it can only mean; `Wire` (domestic or international?) is
/// still refused.
#[test]
fn codes_and_enum_values_in_another_case_are_read_as_the_schema_spells_them() {
    let text = "txn_id,ts,sender_id,receiver_id,amount,currency,channel,status,sender_kind,geo_country\n\
                T1,2024-03-01T10:00:00Z,A,B,10,usd,ACH,Completed,ACCOUNT,de\n\
                T2,2024-03-01T10:00:00Z,A,B,10, eur ,Card Present,reversed,Wallet,FR\n\
                T3,2024-03-01T10:00:00Z,A,B,10,USDt,wire-intl, ATTEMPTED ,account,gb\n\
                T4,2024-03-01T10:00:00Z,A,B,10,USD,Wire,completed,account,DE\n\
                T5,2024-03-01T10:00:00Z,A,B,10,USD,ach,done,account,DE\n\
                T6,2024-03-01T10:00:00Z,A,B,10,USD,ach,completed,account,Germany\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(&dir, "t.csv", text.as_bytes());
    let rates = write(
        &dir,
        "rates.csv",
        b"date,currency,rate_to_base\n2024-03-01,EUR,1.1\n2024-03-01,USDT,1.0\n",
    );
    let rates = redflag_io::RateTable::from_file(&rates, "USD").expect("rates");
    let (got, rejects) =
        ingest_with(&[&p], MappingProfile::canonical(), Some(rates)).expect("ingest");
    assert_eq!(
        reasons(&rejects),
        [
            (5, "channel", RejectReason::UnknownEnumValue),
            (6, "status", RejectReason::UnknownEnumValue),
            (7, "geo_country", RejectReason::BadValue),
        ]
    );
    let texts = |name: &str| -> Vec<String> {
        got.batches
            .iter()
            .flat_map(|b| {
                let t = Text::of(b.column_by_name(name).expect("column").as_ref()).expect("text");
                (0..t.len()).map(move |i| t.get(i).unwrap_or("-").to_owned())
            })
            .collect()
    };
    assert_eq!(texts("currency"), ["USD", "EUR", "USDT"]);
    assert_eq!(texts("channel"), ["ach", "card_present", "wire_intl"]);
    assert_eq!(texts("status"), ["completed", "reversed", "attempted"]);
    assert_eq!(texts("sender_kind"), ["account", "wallet", "account"]);
    assert_eq!(texts("geo_country"), ["DE", "FR", "GB"]);
    // The FX rate is found under the code as the schema spells it.
    assert_eq!(f64_column(&got, "amount_base"), [10.0, 11.0, 10.0]);
}

#[test]
fn rows_without_an_fx_rate_are_rejected() {
    let text = format!(
        "{HEADER}\nT1,2024-03-01T10:00:00Z,A,B,10,USD,ach\nT2,2024-03-01T10:00:00Z,A,B,10,EUR,ach\n"
    );
    let (counts, rejects, _) = run(text.as_bytes());
    assert_eq!(counts, (2, 1, 1));
    assert_eq!(reasons(&rejects), [(3, "currency", RejectReason::NoFxRate)]);
    assert!(
        rejects[0].detail.contains("no rates file"),
        "{}",
        rejects[0].detail
    );
}

#[test]
fn ndjson_bad_lines_are_rejected_even_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        &dir,
        "t.ndjson",
        b"{\"txn_id\": \"T0\", oops\n\
          {\"txn_id\":\"T1\",\"ts\":\"2024-03-01T10:00:00Z\",\"sender_id\":\"A\",\"receiver_id\":\"B\",\"amount\":10,\"currency\":\"USD\",\"channel\":\"ach\"}\n\
          \n\
          {\"txn_id\":\"T2\",\"ts\":\"2024-03-01T10:00:00Z\",\"sender_id\":\"A\",\"receiver_id\":\"B\",\"amount\":-1,\"currency\":\"USD\",\"channel\":\"ach\"}\n\
          {\"txn_id\":\"T3\",\"ts\":\"2024-03-01T10:00:00Z\"",
    );
    let (got, rejects) = ingest_with(&[&p], MappingProfile::canonical(), None).expect("ingest");
    assert_eq!((got.report.rows_read, got.report.accepted), (4, 1));
    assert_eq!(got.report.files[0].blank_lines, 1);
    assert_eq!(
        reasons(&rejects),
        [
            (1, "", RejectReason::MalformedJson),
            (4, "amount", RejectReason::BadAmount),
            (5, "", RejectReason::TruncatedRecord)
        ]
    );
}
