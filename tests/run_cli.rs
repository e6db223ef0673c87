//! `redflag run`: every output, determinism, the alert record format, and a planted funnel.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::util::{pseudonym, redflag, sample};

fn run(out: &Path, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let mut args = vec!["run", "--out", out.as_str(), "--seed", "7"];
    args.extend(extra);
    redflag(&args)
}

fn sample_args() -> Vec<String> {
    vec![
        sample("transactions.csv"),
        "--rates".into(),
        sample("rates.csv"),
    ]
}

#[test]
fn run_writes_every_output_and_the_counts_add_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = sample_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let out = run(dir.path(), &args);
    let wall = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alerts.csv",
            "alerts.jsonl",
            "alerts.parquet",
            "manifest.json",
            "rejected.csv",
            "report.html",
            "reveal.map",
            "scores.csv"
        ]
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["ingest"]["rows_read"], 3045);
    assert_eq!(manifest["ingest"]["rejected"], 5);
    // The input's size and SHA-256 (hashed beside the alerts stage) are the file's.
    let input = &manifest["inputs"][0];
    let bytes = std::fs::read(input["path"].as_str().expect("path")).expect("input");
    let want: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(input["sha256"].as_str(), Some(want.as_str()));
    assert_eq!(input["size"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(manifest["seed"], 7);
    // Every stage is timed, the outputs too; the stages follow one another inside the run.
    let timings = manifest["timings"].as_object().expect("timings");
    let mut stages: Vec<&str> = timings.keys().map(String::as_str).collect();
    stages.sort_unstable();
    assert_eq!(
        stages,
        ["alerts", "features", "ingest", "model", "output", "rules"]
    );
    let spent: f64 = timings.values().map(|t| t.as_f64().expect("seconds")).sum();
    assert!(
        timings.values().all(|t| t.as_f64() > Some(0.0)) && spent < wall,
        "{timings:?}: {spent} s of a {wall} s run"
    );
    // The forest's training hash (BLAKE3, hex) is recorded, and every alert quotes it.
    let training = manifest["model"]["training_blake3"]
        .as_str()
        .expect("training_blake3");
    assert!(
        training.len() == 64 && training.bytes().all(|b| b.is_ascii_hexdigit()),
        "{training}"
    );
    let scores = std::fs::read_to_string(dir.path().join("scores.csv")).expect("scores");
    assert_eq!(
        scores.lines().count() - 1,
        manifest["entities"].as_u64().expect("entities") as usize
    );
    assert!(scores.starts_with("entity_id,entity_kind,risk,rule_score,anomaly_score,rank\n"));
    let rejected = std::fs::read_to_string(dir.path().join("rejected.csv")).expect("rejected");
    assert_eq!(rejected.lines().count(), 1 + 5, "{rejected}");
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).expect("alerts");
    assert_eq!(
        alerts.lines().count(),
        manifest["alerts"].as_u64().expect("alerts") as usize
    );
    for (k, line) in alerts.lines().enumerate() {
        let a: serde_json::Value = serde_json::from_str(line).expect("alert json");
        assert_eq!(a["rank"], k + 1);
        let model = a["versions"]["model"].as_str().expect("model");
        assert!(model.contains(training), "{model}");
        assert!(
            !a["reasons"].as_array().expect("reasons").is_empty() || a["anomaly_only"] == true,
            "{line}"
        );
    }
}

#[test]
fn outputs_are_identical_on_one_and_two_threads() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let args = sample_args();
    let mut one: Vec<&str> = vec!["--threads", "1"];
    one.extend(args.iter().map(String::as_str));
    let mut two: Vec<&str> = vec!["--threads", "2"];
    two.extend(args.iter().map(String::as_str));
    assert!(run(a.path(), &one).status.success());
    assert!(run(b.path(), &two).status.success());
    for f in ["alerts.jsonl", "alerts.csv", "scores.csv", "rejected.csv"] {
        let x = std::fs::read(a.path().join(f)).expect("a");
        let y = std::fs::read(b.path().join(f)).expect("b");
        assert!(x == y, "{f} differs between 1 and 2 threads");
    }
}

/// Cash paid in across four cities and withdrawn in another within hours, just under the
/// reporting threshold: funnel (FN-1) and structuring (ST-1), two groups, so an alert.
fn funnel_csv(path: &Path) {
    let mut s = String::from("txn_id,ts,sender_id,receiver_id,amount,currency,channel,geo_city\n");
    for (i, city) in ["Reno", "Boise", "Tulsa", "Omaha"].iter().enumerate() {
        s.push_str(&format!(
            "d{i},2024-03-{:02}T10:00:00Z,CASH,FUNNEL,9000,USD,cash_deposit,{city}\n",
            10 + i
        ));
        s.push_str(&format!(
            "w{i},2024-03-{:02}T16:00:00Z,FUNNEL,CASH,8800,USD,atm_withdrawal,Los Angeles\n",
            10 + i
        ));
    }
    for i in 0..40 {
        s.push_str(&format!(
            "n{i},2024-03-{:02}T12:00:00Z,P{},P{},{},USD,wire_domestic,\n",
            1 + i % 14,
            i % 9,
            (i * 5 + 1) % 9,
            100 + i
        ));
    }
    std::fs::write(path, s).expect("write");
}

#[test]
fn a_planted_funnel_alerts_with_its_reasons_evidence_and_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("funnel.csv");
    funnel_csv(&input);
    let out_dir = dir.path().join("out");
    let out = run(&out_dir, &[&input.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = std::fs::read_to_string(out_dir.join("alerts.jsonl")).expect("alerts");
    let funnel: serde_json::Value = alerts
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|a| a["entity_id"] == pseudonym("FUNNEL").as_str())
        .expect("the funnel account alerts");
    let rules: Vec<&str> = funnel["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["rule_id"].as_str().expect("id"))
        .collect();
    assert!(
        rules.contains(&"FN-1") && rules.contains(&"ST-1"),
        "{rules:?}"
    );
    assert_eq!(funnel["role_hint"], "possible_controller");
    assert_eq!(funnel["anomaly_only"], false);
    let fn1 = funnel["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .find(|r| r["rule_id"] == "FN-1")
        .expect("FN-1");
    assert!(
        fn1["text"]
            .as_str()
            .expect("text")
            .starts_with("cash paid in at 4 cities"),
        "{fn1}"
    );
    assert_eq!(fn1["values"][0]["feature"], "cash_in_cities_30d");
    assert_eq!(fn1["values"][0]["value"], 4.0);
    assert_eq!(fn1["values"][0]["threshold"], 3.0);
    let mut evidence: Vec<&str> = funnel["evidence_txn_ids"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|v| v.as_str().expect("id"))
        .collect();
    evidence.sort_unstable();
    assert_eq!(evidence, ["d0", "d1", "d2", "d3", "w0", "w1", "w2", "w3"]);
    assert_eq!(funnel["case_id"], funnel["alert_id"]);
}

#[test]
fn alert_record_fields_are_the_documented_wire_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("funnel.csv");
    funnel_csv(&input);
    let out_dir = dir.path().join("out");
    assert!(
        run(&out_dir, &[&input.display().to_string()])
            .status
            .success()
    );
    let alerts = std::fs::read_to_string(out_dir.join("alerts.jsonl")).expect("alerts");
    let first = alerts.lines().next().expect("an alert");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    let a: serde_json::Value = serde_json::from_str(first).expect("json");
    // serde_json without preserve_order sorts keys; the snapshot is of the set of fields.
    assert_eq!(
        keys(&a),
        [
            "alert_id",
            "anomaly_only",
            "anomaly_percentile",
            "anomaly_score",
            "case_id",
            "entity_id",
            "entity_kind",
            "evidence_txn_ids",
            "rank",
            "reasons",
            "risk",
            "role_hint",
            "rule_score",
            "top_features",
            "typologies",
            "versions"
        ]
    );
    // In the file itself the fields come in the documented order.
    let order = [
        "\"alert_id\"",
        "\"rank\"",
        "\"entity_id\"",
        "\"entity_kind\"",
        "\"risk\"",
        "\"rule_score\"",
        "\"anomaly_score\"",
        "\"anomaly_percentile\"",
        "\"anomaly_only\"",
        "\"typologies\"",
        "\"reasons\"",
        "\"top_features\"",
        "\"evidence_txn_ids\"",
        "\"role_hint\"",
        "\"case_id\"",
        "\"versions\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| first.find(k).expect(k)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first}");
    assert_eq!(
        keys(&a["reasons"][0]),
        [
            "code", "group", "rule_id", "severity", "sources", "text", "values"
        ]
    );
    assert_eq!(
        keys(&a["reasons"][0]["values"][0]),
        ["feature", "op", "threshold", "value"]
    );
    assert_eq!(
        keys(&a["versions"]),
        [
            "alert_format",
            "model",
            "reference",
            "rule_pack",
            "rule_pack_sha256",
            "tool"
        ]
    );
    assert_eq!(a["versions"]["alert_format"], 1);
    assert!(a["alert_id"].as_str().expect("id").starts_with("A-"));
}

/// A file whose rows are mostly in currencies with no rate: the run still scores the rest, and
/// says on stderr how many were refused for what, that the scores describe the rest only, and
/// what fixes it; with the rates, no warning.
#[test]
fn a_run_that_refuses_most_records_says_why_and_what_fixes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("mixed.csv");
    let mut s = String::from("txn_id,ts,sender_id,receiver_id,amount,currency,channel\n");
    for i in 0..40 {
        let currency = ["USD", "EUR", "EUR", "GBP"][i % 4];
        s.push_str(&format!(
            "t{i},2024-03-{:02}T12:00:00Z,P{},P{},{},{currency},wire_domestic\n",
            1 + i % 20,
            i % 7,
            (i + 3) % 7,
            100 + i
        ));
    }
    std::fs::write(&input, s).expect("write");
    let input = input.display().to_string();

    let out = run(&dir.path().join("no-rates"), &[input.as_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("30 of 40 records rejected (no_fx_rate 30); see "),
        "{err}"
    );
    assert!(
        err.contains(
            "75% of the records were rejected, so everything scored describes the other 25% only; \
             most are no_fx_rate: give --rates FILE"
        ),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("10 transactions"));

    let rates = dir.path().join("rates.csv");
    std::fs::write(
        &rates,
        "date,currency,rate_to_base\n2024-01-01,EUR,1.1\n2024-01-01,GBP,1.3\n",
    )
    .expect("rates");
    let rates = rates.display().to_string();
    let out = run(
        &dir.path().join("rates"),
        &[input.as_str(), "--rates", rates.as_str()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("rejected"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("40 transactions"));
}

/// A redflag built without the `distributed` feature (as the tests are) refuses `--cluster`
/// before reading anything, and says how to get it.
#[cfg(not(feature = "distributed"))]
#[test]
fn cluster_needs_the_distributed_feature_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = sample_args();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--cluster", "df://127.0.0.1:50050"]);
    let out = run(dir.path(), &args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("df://127.0.0.1:50050") && err.contains("--features distributed"),
        "{err}"
    );
    assert!(!dir.path().join("rejected.csv").exists(), "nothing written");
}

/// `--memory-limit` takes a size with a unit, spills and partitions the run (manifest.json says
/// how), and changes no output; a size it cannot read is refused before anything is read.
#[test]
fn a_memory_limit_changes_no_output_and_a_bad_size_is_refused() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let args = sample_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(run(a.path(), &args).status.success());
    let mut limited = args.clone();
    limited.extend(["--memory-limit", "256KiB"]);
    let out = run(b.path(), &limited);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["alerts.jsonl", "alerts.csv", "scores.csv", "rejected.csv"] {
        let x = std::fs::read(a.path().join(f)).expect("a");
        let y = std::fs::read(b.path().join(f)).expect("b");
        assert!(x == y, "{f} differs under --memory-limit 256KiB");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.path().join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["config"]["memory_limit"], "262144");
    let partitions: usize = manifest["config"]["partitions"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("partitions");
    assert!(partitions > 1, "{partitions}");

    let c = tempfile::tempdir().expect("tempdir");
    let mut bad = args.clone();
    bad.extend(["--memory-limit", "6XB"]);
    let out = run(c.path(), &bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("6XB") && err.contains("unit"), "{err}");
    assert!(!c.path().join("rejected.csv").exists(), "nothing written");
}

/// A `.csv.gz` cut short (an interrupted copy) fails the run with the file, the line the data
/// stops at and what was expected, and leaves no output behind.
#[test]
fn a_truncated_gzip_input_is_refused_with_the_line_it_stops_at() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read(sample("transactions.csv")).expect("read sample");
    let lines = text.iter().filter(|&&b| b == b'\n').count();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&text).expect("gzip");
    let gz = enc.finish().expect("finish");
    let cut = dir.path().join("cut.csv.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).expect("write");
    let out_dir = dir.path().join("out");
    let cut_arg = cut.display().to_string();
    let out = run(&out_dir, &[&cut_arg]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains("cut.csv.gz")
            && first.contains("truncated")
            && first.contains("expected a complete gzip-compressed CSV file"),
        "{err}"
    );
    // The line is where the decompressed data stops: about half way through the file.
    let line: usize = first
        .split("line ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a line number in {first:?}"));
    assert!(line > lines / 4 && line < lines, "line {line} of {lines}");
    for name in [
        "alerts.jsonl",
        "scores.csv",
        "manifest.json",
        "rejected.csv",
    ] {
        assert!(!out_dir.join(name).exists(), "{name} written");
    }
}

/// An input with no records, or whose every record is refused, stops the run before any
/// scoring with what happened; the refused records stay in `rejected.csv` for the analyst.
#[test]
fn nothing_to_score_is_said_plainly_and_the_refused_records_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let header = std::fs::read_to_string(sample("transactions.csv"))
        .expect("read sample")
        .lines()
        .next()
        .expect("header")
        .to_owned();
    // Runs on a file `name` holding `body`: the run must fail before any output but
    // `rejected.csv`; gives its stderr and output directory.
    let refused = |name: &str, body: String| {
        let input = dir.path().join(name);
        std::fs::write(&input, body).expect("write");
        let out_dir = dir.path().join(format!("out-{name}"));
        let out = run(&out_dir, &[input.to_str().expect("utf8")]);
        assert_eq!(out.status.code(), Some(2));
        for name in ["alerts.jsonl", "scores.csv", "manifest.json"] {
            assert!(!out_dir.join(name).exists(), "{name} written");
        }
        (String::from_utf8_lossy(&out.stderr).into_owned(), out_dir)
    };
    let (err, _) = refused("empty.csv", format!("{header}\n"));
    assert!(
        err.contains("no transactions to score: the input holds no records")
            && err.contains("empty.csv"),
        "{err}"
    );
    let (err, out_dir) = refused(
        "bad.csv",
        format!("{header}\nT1,2024-01-01T00:00:00Z,A,B\nT2,2024-13-01T00:00:00Z,A,B\n"),
    );
    assert!(
        err.contains("no transactions to score: all 2 records of")
            && err.contains("wrong_field_count 2")
            && err.contains("rejected.csv"),
        "{err}"
    );
    let rejected = std::fs::read_to_string(out_dir.join("rejected.csv")).expect("rejected.csv");
    assert_eq!(rejected.lines().count(), 3, "{rejected}");
}

/// An `--as-of` whose 30 days hold no transaction (a typo in the year, a date before the
/// data) is refused with the span of the data, in memory and under a memory limit alike.
#[test]
fn an_as_of_outside_the_data_is_refused_with_the_data_span() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = sample_args();
    for (k, as_of) in ["2030-01-01", "2001-06-30"].into_iter().enumerate() {
        for limit in [None, Some("64MiB")] {
            let out_dir = dir.path().join(format!("out-{k}-{}", limit.is_some()));
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.extend(["--as-of", as_of]);
            if let Some(l) = limit {
                a.extend(["--memory-limit", l]);
            }
            let out = run(&out_dir, &a);
            assert_eq!(out.status.code(), Some(2), "{as_of} {limit:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!(
                    "as_of {as_of}T00:00:00+00:00: no transaction falls"
                )) && err.contains("the data runs from 2024-"),
                "{err}"
            );
            assert!(!out_dir.join("manifest.json").exists());
        }
    }
}

/// `--out` naming a file is refused as such, and the file is left as it was.
#[test]
fn an_out_path_that_is_a_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("results");
    std::fs::write(&file, "keep me").expect("write");
    let args = sample_args();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&file, &a);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("results: exists and is not a directory; expected an output directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "keep me");
}
