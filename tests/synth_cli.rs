//! `redflag synth` and the committed labelled population in `sample-data/population/`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::util::{csv_rows, pseudonym, redflag, root};

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

/// `redflag run` on the committed labelled population into a fresh directory, with `extra`
/// options; fails the test unless it succeeds.
fn run_on_sample(extra: &[&str]) -> (tempfile::TempDir, std::process::Output) {
    let sample = root().join("sample-data/population");
    let out = tempfile::tempdir().expect("dir");
    let s = |f: &str| sample.join(f).display().to_string();
    let mut args = vec![
        "run".to_owned(),
        s("transactions.csv.gz"),
        "--rates".to_owned(),
        s("rates.csv"),
        "--reference-dir".to_owned(),
        s("reference"),
        "--out".to_owned(),
        out.path().display().to_string(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = redflag(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    (out, run)
}

/// End to end on the labelled sample: the planted controllers of the clear cases surface, and
/// most alerts are planted entities, not look-alikes.
#[test]
fn run_on_the_sample_population_finds_the_planted_cases() {
    let sample = root().join("sample-data/population");
    let (out, run) = run_on_sample(&[]);
    // Not a terminal: no progress line (only the fairness warnings).
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.lines().all(|l| l.starts_with("redflag: fairness: ")),
        "{stderr}"
    );
    let labels: BTreeMap<String, BTreeMap<String, String>> =
        csv_rows(&sample.join("account_labels.csv"))
            .into_iter()
            .map(|r| (pseudonym(&r["account"]), r))
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

/// `redflag eval` on the sample: redflag's ranking against a detector that knows nothing
/// (every entity the same risk), side by side, and the JSON shape scripts rely on.
#[test]
fn eval_compares_scores_files_on_the_sample_labels() {
    let sample = root().join("sample-data/population");
    let s = |f: &str| sample.join(f).display().to_string();
    let (out, _) = run_on_sample(&[]);
    let o = |f: &str| out.path().join(f).display().to_string();
    // A know-nothing detector: every labelled account at the same risk.
    let labels = csv_rows(&sample.join("account_labels.csv"));
    let mut flat = String::from("entity_id,entity_kind,risk\n");
    for l in &labels {
        flat.push_str(&format!("{},account,0.5\n", l["account"]));
    }
    std::fs::write(o("flat.csv"), flat).expect("write");
    let eval = redflag(&[
        "eval",
        "--scores",
        &o("scores.csv"),
        "--scores",
        &o("flat.csv"),
        "--labels",
        &s("account_labels.csv"),
        "--k",
        "50,100",
        "--json",
    ]);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("json");
    let (ours, flat) = (&v[0], &v[1]);
    let positives = labels.iter().filter(|l| l["is_suspicious"] == "1").count() as u64;
    assert_eq!(ours["overall"]["positives"], positives);
    assert_eq!(ours["overall"]["n"], labels.len() as u64);
    let f = |x: &serde_json::Value| x.as_f64().expect("number");
    // The flat detector's ROC-AUC is exactly one half; its PR-AUC is about the positive rate.
    assert_eq!(f(&flat["overall"]["roc_auc"]), 0.5);
    assert!(f(&ours["overall"]["pr_auc"]) > 1.5 * f(&flat["overall"]["pr_auc"]));
    assert!(f(&ours["by_role"]["controller"]["roc_auc"]) > 0.85);
    assert!(f(&ours["by_typology"]["sex_ads"]["recall_at"]["100"]) >= 0.8);
    for role in ["controller", "victim", "front_business"] {
        assert!(ours["by_role"][role]["pr_auc"].is_number(), "{role}");
    }
    // The text table names every typology.
    let text = redflag(&[
        "eval",
        "--scores",
        &o("scores.csv"),
        "--labels",
        &s("account_labels.csv"),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    for t in [
        "overall",
        "role victim",
        "typology wage_sweep",
        "P@100",
        "PR-AUC",
    ] {
        assert!(text.contains(t), "{t:?} in\n{text}");
    }
    // A labels file without the label column is refused, naming the file and the column.
    std::fs::write(o("bad.csv"), "account,typology\nAC1,x\n").expect("write");
    let bad = redflag(&[
        "eval",
        "--scores",
        &o("flat.csv"),
        "--labels",
        &o("bad.csv"),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("bad.csv") && err.contains("is_suspicious"),
        "{err}"
    );
}

/// FC20 p.10: a possible victim is never presented as a suspect. On the sample, victims who
/// hand their takings or wages to the controller fire controller-type rules (funnel,
/// pass-through), yet the money flows inside their case say whose money it is.
#[test]
fn issue_7_victims_handing_money_to_a_controller_are_possible_victims() {
    let sample = root().join("sample-data/population");
    let (out, _) = run_on_sample(&[]);
    let mut labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (file, id) in [
        ("account_labels.csv", "account"),
        ("customer_labels.csv", "customer"),
    ] {
        for r in csv_rows(&sample.join(file)) {
            labels.insert(pseudonym(&r[id]), r);
        }
    }
    let (mut victims, mut wrong) = (0, Vec::new());
    for a in csv_rows(&out.path().join("alerts.csv")) {
        let Some(l) = labels.get(&a["entity_id"]) else {
            continue;
        };
        match (l["role"].as_str(), a["role_hint"].as_str()) {
            ("victim", "possible_victim") => victims += 1,
            ("victim", "possible_controller") | ("controller", "possible_victim") => {
                wrong.push(format!(
                    "{} is a {} tagged {}",
                    a["entity_id"], l["role"], a["role_hint"]
                ))
            }
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(
        victims >= 10,
        "{victims} alerted victims tagged possible_victim"
    );
}

/// `--max-per-case` diversifies the queue: no case has more than N alerts, and the budget then
/// reaches further down the ranking into other cases.
#[test]
fn max_per_case_keeps_one_network_from_flooding_the_queue() {
    let queue = |extra: &[&str]| {
        let (out, _) = run_on_sample(extra);
        csv_rows(&out.path().join("alerts.csv"))
    };
    let plain = queue(&["--budget", "20"]);
    let diverse = queue(&["--budget", "20", "--max-per-case", "1"]);
    assert_eq!(diverse.len(), 20);
    let cases = |q: &[BTreeMap<String, String>]| {
        q.iter()
            .map(|r| r["case_id"].clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(cases(&diverse).len(), 20, "one alert per case");
    assert!(
        cases(&plain).len() < 20,
        "without the cap, cases repeat in the top 20"
    );
    // The first alert is the same; ranks are consecutive.
    assert_eq!(plain[0]["entity_id"], diverse[0]["entity_id"]);
    for (i, r) in diverse.iter().enumerate() {
        assert_eq!(r["rank"], (i + 1).to_string());
    }
}

/// Every run reports alert rates per segment in the manifest and the report, and prints the
/// warnings; the segments of each dimension cover every entity once.
#[test]
fn fairness_is_reported_per_segment() {
    let (out, run) = run_on_sample(&[]);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let f = &manifest["fairness"];
    let dims: Vec<&str> = f["dimensions"]
        .as_array()
        .expect("dimensions")
        .iter()
        .map(|d| d["dimension"].as_str().expect("name"))
        .collect();
    assert_eq!(
        dims,
        ["entity_kind", "channel_mix", "region", "institution"]
    );
    let mut alerts_per_dim = BTreeSet::new();
    for d in f["dimensions"].as_array().expect("dimensions") {
        let segs = d["segments"].as_array().expect("segments");
        let sum = |k: &str| segs.iter().map(|s| s[k].as_u64().expect("n")).sum::<u64>();
        assert_eq!(sum("entities"), manifest["entities"].as_u64().expect("n"));
        alerts_per_dim.insert(sum("alerts"));
        for s in segs {
            let rate = s["alerts"].as_f64().expect("a") / s["entities"].as_f64().expect("n");
            assert!(
                (s["rate"].as_f64().expect("rate") - rate).abs() < 1e-4,
                "{s}"
            );
        }
    }
    assert_eq!(
        alerts_per_dim.len(),
        1,
        "every dimension counts the same alerts"
    );
    // Accounts and customers alert; external parties and merchants in this population do not.
    let kinds = &f["dimensions"][0]["segments"];
    let rate = |seg: &str| {
        kinds
            .as_array()
            .expect("segments")
            .iter()
            .find(|s| s["segment"] == seg)
            .map(|s| s["rate"].as_f64().expect("rate"))
    };
    assert!(rate("account") > Some(0.01) && rate("external") == Some(0.0));
    let warnings: Vec<&str> = f["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("text"))
        .collect();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let printed: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("redflag: fairness: "))
        .collect();
    assert_eq!(printed, warnings);
    let report = std::fs::read_to_string(out.path().join("report.html")).expect("report");
    assert!(report.contains("<h2>Alert rates per segment</h2>"));
    assert!(report.contains("<h3>channel_mix</h3>"));
}
