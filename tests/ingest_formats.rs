//! The same data in CSV, CSV.gz, NDJSON and Parquet gives the same accepted table and the same
//! rejects; AMLworld files load through their profile.

use std::io::Write;
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::Float64Type;
use redflag_io::{MappingProfile, RateTable, RejectReason};
use redflag_schema::Text;

use crate::util::{ingest_with, reasons, sample};

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

/// A Parquet file most of whose rows have no FX rate (no `--rates` given): every refused row
/// names its own currency, shows its values, and comes at its row number; a sink that does not
/// read records gets the same rejects with the records left empty.
#[test]
fn parquet_rows_without_a_rate_are_refused_each_with_its_currency_and_values() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray};
    use redflag_io::{CollectRejects, DiscardRejects, IngestOptions, Reject, RejectSink};

    let n = 30;
    let currencies = ["USD", "EUR", "GBP"];
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter((0..n).map(|i| Some(f(i)))))
    };
    let t0 = 1_709_251_200_000_000_i64; // 2024-03-01T00:00:00Z
    let batch = RecordBatch::try_from_iter([
        ("txn_id", text(&|i| format!("T{i}"))),
        (
            "ts",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    (0..n).map(|i| t0 + i as i64 * 60_000_000),
                )
                .with_timezone("UTC"),
            ) as ArrayRef,
        ),
        ("sender_id", text(&|i| format!("A{}", i % 4))),
        ("receiver_id", text(&|_| "B \"1\"".to_owned())),
        (
            "amount",
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| 10.5 + i as f64),
            )) as ArrayRef,
        ),
        ("currency", text(&|i| currencies[i % 3].to_owned())),
        ("channel", text(&|_| "ach".to_owned())),
    ])
    .expect("batch");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.parquet");
    let file = std::fs::File::create(&path).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");

    let (got, rejects) = ingest_with(&[&path], MappingProfile::canonical(), None).expect("ingest");
    assert_eq!(got.report.accepted, 10);
    assert_eq!(rejects.len(), 20);
    for r in &rejects {
        let row = (r.line - 1) as usize;
        let currency = currencies[row % 3];
        assert_ne!(currency, "USD", "line {}", r.line);
        assert_eq!(r.reason, RejectReason::NoFxRate);
        assert_eq!(r.column, "currency");
        assert_eq!(
            r.detail,
            format!(
                "currency {currency} is not the base currency USD and no rates file was given (--rates)"
            )
        );
        let minute = format!("{:02}", row);
        assert_eq!(
            r.record,
            format!(
                "{{\"txn_id\": \"T{row}\", \"ts\": \"2024-03-01T00:{minute}:00Z\", \"sender_id\": \
                 \"A{}\", \"receiver_id\": \"B \\\"1\\\"\", \"amount\": {}, \"currency\": \
                 \"{currency}\", \"channel\": \"ach\"}}",
                row % 4,
                10.5 + row as f64
            )
        );
    }

    // The same ingest into a sink that does not read records.
    struct Without(Vec<Reject>);
    impl RejectSink for Without {
        fn push(&mut self, r: &Reject) -> redflag_io::Result<()> {
            self.0.push(r.clone());
            Ok(())
        }
        fn wants_records(&self) -> bool {
            false
        }
    }
    let opts = IngestOptions::new(
        MappingProfile::canonical(),
        RateTable::base_only("USD").expect("usd"),
    );
    let input = [path.display().to_string()];
    let mut without = Without(Vec::new());
    let again = redflag_io::ingest(&input, &opts, &mut without).expect("ingest");
    assert_eq!(again.report.rejected, 20);
    let blank = |r: &Reject| Reject {
        record: String::new(),
        ..r.clone()
    };
    assert_eq!(without.0, rejects.iter().map(blank).collect::<Vec<_>>());
    assert!(CollectRejects::default().wants_records() && !DiscardRejects.wants_records());
}

/// Unix times, as crypto and event-stream exports carry them: a Parquet `Int64` column of
/// milliseconds and a CSV of seconds with fractions, read through `timestamp_format`, give the
/// instants the same rows give as RFC 3339 text; a value in the wrong unit is refused with
/// the unit to try.
#[test]
fn unix_times_load_through_the_profile_in_any_format() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::TimestampMicrosecondType;

    let n = 12usize;
    let t0_ms = 1_709_251_200_000_i64; // 2024-03-01T00:00:00Z
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter((0..n).map(|i| Some(f(i)))))
    };
    let ms = |i: usize| t0_ms + i as i64 * 90_250; // 90.25 s apart: fractions of a second
    let columns = |ts: ArrayRef| {
        RecordBatch::try_from_iter([
            ("txn_id", text(&|i| format!("T{i}"))),
            ("ts", ts),
            ("sender_id", text(&|i| format!("A{}", i % 3))),
            ("receiver_id", text(&|_| "B".to_owned())),
            (
                "amount",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| 5.0 + i as f64),
                )) as ArrayRef,
            ),
            ("currency", text(&|_| "USD".to_owned())),
            ("channel", text(&|_| "ach".to_owned())),
        ])
        .expect("batch")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let write_parquet = |name: &str, batch: &RecordBatch| {
        let path = dir.path().join(name);
        let file = std::fs::File::create(&path).expect("create");
        let mut w =
            parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        w.write(batch).expect("write");
        w.close().expect("close");
        path
    };
    let iso = write_parquet(
        "iso.parquet",
        &columns(text(&|i| {
            chrono::DateTime::from_timestamp_millis(ms(i))
                .expect("instant")
                .to_rfc3339()
        })),
    );
    let epoch_ms = write_parquet(
        "ms.parquet",
        &columns(Arc::new(Int64Array::from_iter_values((0..n).map(ms)))),
    );
    let mut csv = String::from("txn_id,ts,sender_id,receiver_id,amount,currency,channel\n");
    for i in 0..n {
        let secs = format!("{}.{:03}", ms(i) / 1000, ms(i) % 1000);
        csv.push_str(&format!(
            "T{i},{secs},A{},B,{},USD,ach\n",
            i % 3,
            5.0 + i as f64
        ));
    }
    let epoch_s = dir.path().join("s.csv");
    std::fs::write(&epoch_s, csv).expect("write");

    let profile = |unit: &str| {
        MappingProfile::from_toml(
            &format!("name = 'unix'\ntimestamp_format = '{unit}'\ntimezone = 'Europe/Berlin'"),
            "unix.toml",
        )
        .expect("profile")
    };
    let times = |path: &Path, p: MappingProfile| -> Vec<i64> {
        let (got, rejects) = ingest_with(&[path], p, None).expect("ingest");
        assert!(
            rejects.is_empty(),
            "{:?}",
            rejects.first().map(|r| &r.detail)
        );
        let table = concat_batches(&got.schema, &got.batches).expect("concat");
        table
            .column_by_name("ts")
            .expect("ts")
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec()
    };
    let want = times(&iso, MappingProfile::canonical());
    assert_eq!(want[1] - want[0], 90_250_000);
    assert_eq!(times(&epoch_ms, profile("epoch_ms")), want);
    assert_eq!(times(&epoch_s, profile("epoch_s")), want);

    // Milliseconds read as seconds: every row refused, with the unit to try.
    let (got, rejects) = ingest_with(&[&epoch_ms], profile("epoch_s"), None).expect("ingest");
    assert_eq!(got.report.accepted, 0);
    assert_eq!(rejects.len(), n);
    assert!(
        rejects
            .iter()
            .all(|r| r.reason == RejectReason::BadTimestamp
                && r.column == "ts"
                && r.detail.contains("epoch_ms")),
        "{}",
        rejects[0].detail
    );
}

/// A bank statement names one account and the other party, with a signed amount: negative
/// paid out (`-12,50`, or `12,50-` as some exports write it), positive paid in. The profile's
/// `[statement]` turns each row into sender, receiver and a positive amount, names included,
/// from CSV text and from Parquet numbers alike; a zero or unreadable amount is refused.
#[test]
fn a_statement_with_signed_amounts_loads_as_sender_and_receiver() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};

    let profile = MappingProfile::from_toml(
        r#"
        name = "statement"
        delimiter = ";"
        decimal_separator = ","
        [columns]
        txn_id = "Ref"
        ts = "Datum"
        amount = "Betrag"
        channel = "Art"
        [constants]
        currency = "EUR"
        [values.channel]
        "Lastschrift" = "ach"
        [statement]
        account = "Konto"
        counterparty = "Gegenkonto"
        account_name = "Inhaber"
        counterparty_name = "Name"
        "#,
        "statement.toml",
    )
    .expect("profile");
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("konto.csv");
    std::fs::write(
        &csv,
        "Ref;Datum;Konto;Inhaber;Gegenkonto;Name;Betrag;Art\n\
         1;2024-03-01;DE01;Ana;DE77;Landlord;-950,00;Lastschrift\n\
         2;2024-03-02;DE01;Ana;DE55;Employer;2100,00;Lastschrift\n\
         3;2024-03-03;DE01;Ana;DE66;Kiosk;12,50-;Lastschrift\n\
         4;2024-03-04;DE01;Ana;DE88;Zero;0,00;Lastschrift\n\
         5;2024-03-05;DE01;Ana;DE99;Text;zwölf;Lastschrift\n\
         6;2024-03-06;DE01;Ana;DE44;Refund;+30,00;Lastschrift\n",
    )
    .expect("write");
    let parties = |got: &redflag_io::Ingested| -> Vec<(String, String, String, String, f64)> {
        let table = concat_batches(&got.schema, &got.batches).expect("concat");
        let text = |name: &str| -> Vec<String> {
            let t = Text::of(table.column_by_name(name).expect("column").as_ref()).expect("text");
            (0..t.len())
                .map(|i| t.get(i).unwrap_or("-").to_owned())
                .collect()
        };
        let amount = table
            .column_by_name("amount")
            .expect("amount")
            .as_primitive::<Float64Type>()
            .values()
            .to_vec();
        let (s, r, sn, rn) = (
            text("sender_id"),
            text("receiver_id"),
            text("sender_name"),
            text("receiver_name"),
        );
        (0..amount.len())
            .map(|i| {
                (
                    s[i].clone(),
                    r[i].clone(),
                    sn[i].clone(),
                    rn[i].clone(),
                    amount[i],
                )
            })
            .collect()
    };
    let eur = || RateTable::base_only("EUR").expect("eur");
    let (got, rejects) = ingest_with(&[&csv], profile.clone(), Some(eur())).expect("ingest");
    let row = |s: &str, r: &str, sn: &str, rn: &str, a: f64| {
        (s.to_owned(), r.to_owned(), sn.to_owned(), rn.to_owned(), a)
    };
    assert_eq!(
        parties(&got),
        [
            row("DE01", "DE77", "Ana", "Landlord", 950.0),
            row("DE55", "DE01", "Employer", "Ana", 2100.0),
            row("DE01", "DE66", "Ana", "Kiosk", 12.5),
            row("DE44", "DE01", "Refund", "Ana", 30.0),
        ]
    );
    assert_eq!(
        reasons(&rejects),
        [
            (5, "Betrag", RejectReason::BadAmount),
            (6, "Betrag", RejectReason::BadAmount)
        ]
    );
    assert!(
        rejects[0].detail.contains("moves no money"),
        "{}",
        rejects[0].detail
    );

    // The same statement as Parquet: numbers for amounts and account numbers.
    let n = 3;
    let text = |v: [&str; 3]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
    let batch = RecordBatch::try_from_iter([
        ("Ref", text(["1", "2", "3"])),
        ("Datum", text(["2024-03-01", "2024-03-02", "2024-03-03"])),
        (
            "Konto",
            Arc::new(Int64Array::from(vec![1001; n])) as ArrayRef,
        ),
        ("Inhaber", text(["Ana", "Ana", "Ana"])),
        (
            "Gegenkonto",
            Arc::new(Int64Array::from(vec![7007, 5005, 6006])) as ArrayRef,
        ),
        ("Name", text(["Landlord", "Employer", "Kiosk"])),
        (
            "Betrag",
            Arc::new(Float64Array::from(vec![-950.0, 2100.0, -12.5])) as ArrayRef,
        ),
        ("Art", text(["Lastschrift", "Lastschrift", "Lastschrift"])),
    ])
    .expect("batch");
    let pq = dir.path().join("konto.parquet");
    let file = std::fs::File::create(&pq).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let (got, rejects) = ingest_with(&[&pq], profile.clone(), Some(eur())).expect("ingest");
    assert!(
        rejects.is_empty(),
        "{:?}",
        rejects.first().map(|r| &r.detail)
    );
    assert_eq!(
        parties(&got),
        [
            row("1001", "7007", "Ana", "Landlord", 950.0),
            row("5005", "1001", "Employer", "Ana", 2100.0),
            row("1001", "6006", "Ana", "Kiosk", 12.5),
        ]
    );

    // Amounts without a sign and a debit/credit column (Soll/Haben): the column decides, and a
    // value that is neither is refused.
    let mut dc = profile;
    let st = dc.statement.as_mut().expect("statement");
    st.debit_credit = Some("S/H".into());
    st.debit = vec!["S".into()];
    st.credit = vec!["H".into()];
    let csv = dir.path().join("soll-haben.csv");
    std::fs::write(
        &csv,
        "Ref;Datum;Konto;Inhaber;Gegenkonto;Name;Betrag;S/H;Art\n\
         1;2024-03-01;DE01;Ana;DE77;Landlord;950,00;S;Lastschrift\n\
         2;2024-03-02;DE01;Ana;DE55;Employer;2100,00; H ;Lastschrift\n\
         3;2024-03-03;DE01;Ana;DE66;Kiosk;12,50;X;Lastschrift\n",
    )
    .expect("write");
    let (got, rejects) = ingest_with(&[&csv], dc, Some(eur())).expect("ingest");
    assert_eq!(
        parties(&got),
        [
            row("DE01", "DE77", "Ana", "Landlord", 950.0),
            row("DE55", "DE01", "Employer", "Ana", 2100.0),
        ]
    );
    assert_eq!(reasons(&rejects), [(4, "S/H", RejectReason::BadValue)]);
    assert!(
        rejects[0]
            .detail
            .contains("neither a debit (S) nor a credit (H)"),
        "{}",
        rejects[0].detail
    );
}

/// A `[statement]` profile that also names sender or receiver columns, names one side only,
/// or makes the amount a constant cannot say who paid, and is refused as such.
#[test]
fn a_statement_profile_that_cannot_say_who_paid_is_refused() {
    // (tables before [statement], keys inside it, what the error says)
    let text = |before: &str, inside: &str| {
        format!("name = 's'\n{before}[statement]\naccount = 'A'\ncounterparty = 'B'\n{inside}")
    };
    MappingProfile::from_toml(&text("", ""), "s.toml").expect("a plain statement profile");
    let cases = [
        (
            "[columns]\nsender_id = 'X'\n",
            "",
            "`sender_id` is given by [statement]",
        ),
        (
            "",
            "account_name = 'N'\n",
            "both account_name and counterparty_name",
        ),
        ("[constants]\namount = '5'\n", "", "must be a column"),
        (
            "",
            "debit_credit = 'S/H'\n",
            "needs the values that mean each way",
        ),
        ("", "debit = ['S']\n", "need the debit_credit column"),
        (
            "",
            "debit_credit = 'DC'\ndebit = ['D']\ncredit = ['C', 'D']\n",
            "\"D\" is both a debit and a credit value",
        ),
    ];
    for (before, inside, want) in cases {
        let text = text(before, inside);
        let e = MappingProfile::from_toml(&text, "s.toml").expect_err(&text);
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}
