//! `redflag check` and `redflag mapping` from the command line.

use serde_json::Value;

use crate::util::{redflag, sample};

fn check_json(args: &[&str]) -> (Value, i32) {
    let mut all = vec!["check", "--json", "--rates"];
    let rates = sample("rates.csv");
    all.push(&rates);
    all.extend_from_slice(args);
    let out = redflag(&all);
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(stdout.trim().lines().count(), 1, "exactly one JSON object");
    (v, out.status.code().unwrap_or(-1))
}

#[test]
fn check_json_counts_add_up_and_agree_across_formats() {
    let mut seen = Vec::new();
    for name in [
        "transactions.csv",
        "transactions.ndjson",
        "transactions.parquet",
    ] {
        let (v, code) = check_json(&[&sample(name)]);
        assert_eq!(code, 0, "{v}");
        let n = |k: &str| v[k].as_u64().expect(k);
        assert_eq!(n("rows_read"), n("accepted") + n("rejected"));
        let reasons: u64 = v["reasons"]
            .as_object()
            .expect("reasons")
            .values()
            .map(|x| x.as_u64().expect("n"))
            .sum();
        assert_eq!(reasons, n("rejected"));
        let f = &v["files"][0];
        assert_eq!(f["rows_read"], v["rows_read"]);
        assert!(f["path"].as_str().expect("path").ends_with(name));
        seen.push((
            n("rows_read"),
            n("accepted"),
            n("rejected"),
            v["reasons"].clone(),
        ));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    // Two files at once: duplicates across files are found, the first file's rows are kept.
    let (v, _) = check_json(&[&sample("transactions.csv"), &sample("transactions.parquet")]);
    assert_eq!(v["files"].as_array().expect("files").len(), 2);
    assert_eq!(
        v["files"][1]["accepted"], 0,
        "every id of the second file was seen"
    );
}

#[test]
fn check_exit_codes_and_rejected_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejected = dir.path().join("rejected.csv");
    let csv = sample("transactions.csv");
    let rates = sample("rates.csv");
    let out = redflag(&[
        "check",
        &csv,
        "--rates",
        &rates,
        "--fail-on-rejects",
        "--rejected",
        rejected.to_str().expect("path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "rejects are fatal with --fail-on-rejects"
    );
    let text = std::fs::read_to_string(&rejected).expect("rejected.csv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("file,line,column,reason,detail,record"));
    assert_eq!(lines.clone().count(), 5);
    // The records' text is withheld unless --raw-ids: file and line find them.
    assert!(lines.all(|l| l.ends_with(',')), "{text}");
    let raw = redflag(&[
        "check",
        &csv,
        "--rates",
        &rates,
        "--raw-ids",
        "--rejected",
        rejected.to_str().expect("path"),
    ]);
    assert_eq!(raw.status.code(), Some(0));
    let text = std::fs::read_to_string(&rejected).expect("rejected.csv");
    assert!(text.lines().skip(1).all(|l| l.contains(",\"T00")), "{text}");
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    assert!(stdout.contains("bad_amount: 1"), "{stdout}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "txn_id,ts,sender_id\n").expect("write");
    let out = redflag(&["check", bad.to_str().expect("p"), &csv]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).expect("utf8");
    assert!(
        stderr.contains("bad.csv: missing required column `receiver_id`"),
        "{stderr}"
    );
    // The good file is still checked and reported.
    assert!(
        String::from_utf8(out.stdout)
            .expect("utf8")
            .contains("transactions.csv")
    );

    let out = redflag(&["check", "no/such/file.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .expect("utf8")
            .contains("no/such/file.csv: no such file")
    );
}

#[test]
fn check_reads_amlworld_and_mapping_show_prints_a_loadable_profile() {
    let (v, code) = {
        let out = redflag(&[
            "check",
            "--json",
            "--mapping",
            "amlworld",
            "--rates",
            &sample("amlworld/rates.csv"),
            &sample("amlworld"),
        ]);
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        (v, out.status.code())
    };
    assert_eq!(code, Some(0));
    assert_eq!(v["accepted"], 200);
    assert_eq!(v["rejected"], 0);

    let out = redflag(&["mapping", "show", "amlworld"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf8");
    let p = redflag_io::MappingProfile::from_toml(&text, "shown").expect("loads");
    assert_eq!(p.name, "amlworld");
    let out = redflag(&["mapping", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}
