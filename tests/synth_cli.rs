//! `redflag synth` and the committed labelled population in `sample-data/population/`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::util::{redflag, root};

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn synth_prints_a_summary_and_is_identical_on_one_and_two_threads() {
    let (a, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = |dir: &std::path::Path, threads: &str| {
        let out = redflag(&[
            "synth",
            "--customers",
            "250",
            "--days",
            "70",
            "--seed",
            "3",
            "--out",
            &dir.display().to_string(),
            "--threads",
            threads,
            "--format",
            "parquet",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let printed = args(a.path(), "1");
    args(b.path(), "2");
    for line in [
        "rows ",
        "customers     250",
        "cases per typology:",
        "sex_ads",
        "look-alikes per kind:",
    ] {
        assert!(printed.contains(line), "{line:?} in\n{printed}");
    }
    for f in [
        "transactions.parquet",
        "account_labels.csv",
        "transaction_labels.csv",
    ] {
        assert_eq!(read(&a.path().join(f)), read(&b.path().join(f)), "{f}");
    }
    // The Parquet reads back through ingest with nothing rejected.
    let p = |f: &str| a.path().join(f).display().to_string();
    let check = redflag(&[
        "check",
        &p("transactions.parquet"),
        "--rates",
        &p("rates.csv"),
        "--json",
        "--fail-on-rejects",
    ]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json");
    assert!(report["accepted"].as_u64().expect("accepted") > 10_000);
    assert_eq!(report["rejected"], 0);
    // Out-of-range arguments are refused with the reason.
    let out = redflag(&[
        "synth",
        "--customers",
        "50",
        "--out",
        &a.path().display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too few"));
}

/// The committed sample is exactly what its documented command makes, so the generator and
/// the sample cannot drift apart.
#[test]
fn sample_population_is_what_its_command_makes() {
    let dir = tempfile::tempdir().expect("dir");
    let out = redflag(&[
        "synth",
        "--customers",
        "400",
        "--days",
        "120",
        "--seed",
        "7",
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sample = root().join("sample-data/population");
    let mut committed = Vec::new();
    flate2::read::GzDecoder::new(&read(&sample.join("transactions.csv.gz"))[..])
        .read_to_end(&mut committed)
        .expect("gzip");
    assert!(
        committed == read(&dir.path().join("transactions.csv")),
        "regenerate sample-data/population (see its README)"
    );
    for f in [
        "account_labels.csv",
        "customer_labels.csv",
        "transaction_labels.csv",
        "rates.csv",
        "reference/vasp_attribution.csv",
        "summary.json",
    ] {
        assert!(
            read(&sample.join(f)) == read(&dir.path().join(f)),
            "{f} differs: regenerate sample-data/population"
        );
    }
}

fn csv_rows(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let text = String::from_utf8(read(path)).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| (*h).to_owned())
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

/// End to end on the labelled sample: the planted controllers of the clear cases surface, and
/// most alerts are planted entities, not look-alikes.
#[test]
fn run_on_the_sample_population_finds_the_planted_cases() {
    let sample = root().join("sample-data/population");
    let out = tempfile::tempdir().expect("dir");
    let s = |f: &str| sample.join(f).display().to_string();
    let run = redflag(&[
        "run",
        &s("transactions.csv.gz"),
        "--rates",
        &s("rates.csv"),
        "--reference-dir",
        &s("reference"),
        "--out",
        &out.path().display().to_string(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let labels: BTreeMap<String, BTreeMap<String, String>> =
        csv_rows(&sample.join("account_labels.csv"))
            .into_iter()
            .map(|r| (r["account"].clone(), r))
            .collect();
    let alerted: BTreeSet<String> = csv_rows(&out.path().join("alerts.csv"))
        .into_iter()
        .filter(|r| r["entity_kind"] == "account")
        .map(|r| r["entity_id"].clone())
        .collect();
    assert!(!alerted.is_empty());
    let planted = alerted
        .iter()
        .filter(|a| labels.get(*a).is_some_and(|l| l["is_suspicious"] == "1"))
        .count();
    assert!(
        planted * 2 > alerted.len(),
        "{planted} of {} account alerts are planted",
        alerted.len()
    );
    let typologies: BTreeSet<&str> = alerted
        .iter()
        .filter_map(|a| labels.get(a))
        .filter(|l| l["role"] == "controller")
        .map(|l| l["typology"].as_str())
        .collect();
    for t in [
        "sex_ads",
        "funnel",
        "structuring",
        "wage_sweep",
        "crypto_ads",
        "travel_visa",
    ] {
        assert!(
            typologies.contains(t),
            "no {t} controller alerted: {typologies:?}"
        );
    }
}
