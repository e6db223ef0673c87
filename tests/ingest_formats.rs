//! The same data in CSV, CSV.gz, NDJSON and Parquet gives the same accepted table and the same
//! rejects; AMLworld files load through their profile.

use std::io::Write;
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::Float64Type;
use redflag_io::{MappingProfile, RateTable, RejectReason};
use redflag_schema::Text;

use crate::util::{ingest_with, sample};

fn load(
    path: &str,
) -> (
    RecordBatch,
    Vec<(u64, RejectReason)>,
    redflag_io::IngestReport,
) {
    let rates = RateTable::from_file(Path::new(&sample("rates.csv")), "USD").expect("rates");
    let (got, rejects) =
        ingest_with(&[Path::new(path)], MappingProfile::canonical(), Some(rates)).expect(path);
    let table = concat_batches(&got.schema, &got.batches).expect("concat");
    let rejects = rejects.iter().map(|r| (r.line, r.reason)).collect();
    (table, rejects, got.report)
}

#[test]
fn every_format_gives_the_same_table_and_rejects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = dir.path().join("transactions.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("create"),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(sample("transactions.csv")).expect("read"))
        .expect("gzip");
    enc.finish().expect("finish");

    let (csv, csv_rejects, csv_report) = load(&sample("transactions.csv"));
    assert!(csv.num_rows() > 2000, "a few thousand rows");
    assert_eq!(csv_report.rejected, 5);
    let reasons: Vec<_> = csv_rejects.iter().map(|r| r.1).collect();
    assert_eq!(
        reasons,
        [
            RejectReason::BadAmount,
            RejectReason::UnknownEnumValue,
            RejectReason::BadCurrency,
            RejectReason::MissingField,
            RejectReason::DuplicateTxnId
        ]
    );
    let parquet_path = sample("transactions.parquet");
    let ndjson_path = sample("transactions.ndjson");
    let gz_path = gz.display().to_string();
    for other in [&parquet_path, &ndjson_path, &gz_path] {
        let (table, rejects, report) = load(other);
        assert_eq!(table, csv, "{other}: same accepted table as the CSV");
        assert_eq!(report.rows_read, csv_report.rows_read, "{other}");
        assert_eq!(report.reasons, csv_report.reasons, "{other}");
        if other.ends_with(".parquet") {
            // Parquet has no lines: the row number is one less than the CSV line.
            let shifted: Vec<_> = rejects.iter().map(|(l, r)| (l + 1, *r)).collect();
            assert_eq!(shifted, csv_rejects, "{other}");
        } else {
            // NDJSON has no header: each line is one less than the CSV line.
            let want: Vec<_> = if other.ends_with(".ndjson") {
                csv_rejects.iter().map(|(l, r)| (l - 1, *r)).collect()
            } else {
                csv_rejects.clone()
            };
            assert_eq!(rejects, want, "{other}");
        }
    }
    // Foreign-currency rows were converted with the rates file.
    let cur = Text::of(csv.column_by_name("currency").expect("currency").as_ref()).expect("text");
    let amount = csv
        .column_by_name("amount")
        .expect("a")
        .as_primitive::<Float64Type>()
        .clone();
    let base = csv
        .column_by_name("amount_base")
        .expect("b")
        .as_primitive::<Float64Type>()
        .clone();
    let mut converted = 0;
    for i in 0..csv.num_rows() {
        let want = match cur.value(i) {
            "USD" => amount.value(i),
            "EUR" | "GBP" => {
                converted += 1;
                assert!(
                    base.value(i) > amount.value(i),
                    "EUR and GBP are worth more than USD"
                );
                continue;
            }
            other => panic!("unexpected currency {other}"),
        };
        assert_eq!(base.value(i), want);
    }
    assert!(converted > 0);
}

#[test]
fn amlworld_layout_loads_through_its_profile() {
    let path = sample("amlworld/HI-Sample_Trans.csv");
    let rates =
        RateTable::from_file(Path::new(&sample("amlworld/rates.csv")), "USD").expect("rates");
    let profile = MappingProfile::builtin("amlworld").expect("profile");
    let (got, rejects) = ingest_with(&[Path::new(&path)], profile, Some(rates)).expect("ingest");
    assert!(rejects.is_empty(), "{rejects:?}");
    let table = concat_batches(&got.schema, &got.batches).expect("concat");
    // Compare every row with the raw file, parsed here independently.
    let text = std::fs::read_to_string(&path).expect("read");
    let raw: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(table.num_rows(), raw.len());
    let channel =
        Text::of(table.column_by_name("channel").expect("channel").as_ref()).expect("text");
    let amount = table
        .column_by_name("amount")
        .expect("a")
        .as_primitive::<Float64Type>()
        .clone();
    let cur = Text::of(table.column_by_name("currency").expect("c").as_ref()).expect("text");
    let ids = table
        .column_by_name("txn_id")
        .expect("id")
        .as_string::<i32>()
        .clone();
    let sender = table
        .column_by_name("sender_id")
        .expect("s")
        .as_string::<i32>()
        .clone();
    let receiver = table
        .column_by_name("receiver_id")
        .expect("r")
        .as_string::<i32>()
        .clone();
    for (i, r) in raw.iter().enumerate() {
        let want_channel = match r[9] {
            "ACH" => "ach",
            "Cheque" => "cheque",
            "Credit Card" => "card_not_present",
            "Wire" => "wire_domestic",
            "Cash" => "cash_deposit",
            "Reinvestment" => "internal",
            "Bitcoin" => "crypto_transfer",
            other => panic!("format {other}"),
        };
        let want_cur = match r[6] {
            "US Dollar" => "USD",
            "Euro" => "EUR",
            "UK Pound" => "GBP",
            "Yuan" => "CNY",
            "Bitcoin" => "BTC",
            other => panic!("currency {other}"),
        };
        assert_eq!(channel.value(i), want_channel, "row {i}");
        assert_eq!(cur.value(i), want_cur, "row {i}");
        assert_eq!(
            amount.value(i),
            r[5].parse::<f64>().expect("amount"),
            "row {i}"
        );
        assert_eq!(sender.value(i), r[2]);
        assert_eq!(
            receiver.value(i),
            r[4],
            "the second Account column is the receiver"
        );
        assert_eq!(ids.value(i), format!("HI-Sample_Trans.csv:{}", i + 2));
    }
    assert!(table.column_by_name("sender_institution").is_some());
    assert!(
        !table
            .schema()
            .fields()
            .iter()
            .any(|f| f.name().contains("aunder")),
        "labels are never read"
    );
}
