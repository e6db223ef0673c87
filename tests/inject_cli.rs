//! `redflag inject`: recall estimated from planted cases matches the recall that a labelled
//! population's own cases give.

use std::collections::BTreeSet;

use crate::util::{ok, redflag};

fn csv(path: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .expect("csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// Tolerance on overall recall: with ~280 planted accounts the binomial standard error is
/// about 0.02, and two independent draws of 48 cases differ by up to 0.03 in our runs.
const TOLERANCE: f64 = 0.06;

#[test]
fn inject_recovers_the_recall_of_the_populations_own_cases() {
    let dir = tempfile::tempdir().expect("dir");
    let pop = dir.path().join("pop");
    let p = |f: &str| pop.join(f).display().to_string();
    ok(&redflag(&[
        "synth",
        "--customers",
        "1200",
        "--days",
        "90",
        "--cases",
        "48",
        "--seed",
        "21",
        "--out",
        &p(""),
    ]));
    let common = |out: &str| {
        vec![
            p("transactions.csv"),
            "--rates".into(),
            p("rates.csv"),
            "--reference-dir".into(),
            p("reference"),
            "--raw-ids".into(),
            "--out".into(),
            dir.path().join(out).display().to_string(),
        ]
    };
    // Recall the labels give: planted member accounts in the alert queue.
    let mut args = vec!["run".to_owned()];
    args.extend(common("run"));
    ok(&redflag(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let alerted: BTreeSet<String> = csv(&dir.path().join("run/alerts.csv"))
        .into_iter()
        .filter(|r| r[3] != "customer")
        .map(|r| r[2].clone())
        .collect();
    let labels: Vec<Vec<String>> = csv(&pop.join("account_labels.csv"))
        .into_iter()
        .filter(|r| r[1] == "1")
        .collect();
    let recall = |role: Option<&str>| {
        let of: Vec<&Vec<String>> = labels
            .iter()
            .filter(|r| role.is_none_or(|x| r[3] == x))
            .collect();
        of.iter().filter(|r| alerted.contains(&r[0])).count() as f64 / of.len() as f64
    };

    // Recall inject estimates, planting 48 new cases into the same data.
    let mut args = vec!["inject".to_owned()];
    args.extend(common("inject"));
    args.extend(["--cases", "48", "--seed", "2"].map(str::to_owned));
    let said = ok(&redflag(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(said.contains("planted 48 cases"), "{said}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("inject/inject.json")).expect("report"),
    )
    .expect("json");
    let estimate = |group: &str| {
        report["recall"]
            .as_array()
            .expect("recall")
            .iter()
            .find(|r| r["group"] == group)
            .map(|r| r["recall"].as_f64().expect("recall"))
            .expect(group)
    };
    let (truth, est) = (recall(None), estimate("overall"));
    assert!(
        (truth - est).abs() <= TOLERANCE,
        "labels give {truth:.3}, inject estimates {est:.3}"
    );
    let (truth, est) = (recall(Some("controller")), estimate("role controller"));
    assert!(
        (truth - est).abs() <= 2.0 * TOLERANCE,
        "controllers: labels give {truth:.3}, inject estimates {est:.3}"
    );
    assert!(truth > 0.2, "controllers are found at all ({truth:.3})");

    // Every planted account is listed once with its typology and role, under a new id; all 16
    // typologies are planted; the run's outputs and manifest say what was injected.
    let planted = csv(&dir.path().join("inject/inject.csv"));
    assert_eq!(
        planted.len() as u64,
        report["recall"][0]["planted"].as_u64().expect("n")
    );
    assert!(
        planted
            .iter()
            .all(|r| r[1].starts_with("INJ-") && r[0] == r[1])
    );
    let typologies: BTreeSet<&str> = planted.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(typologies.len(), 16);
    let queue: BTreeSet<String> = csv(&dir.path().join("inject/alerts.csv"))
        .into_iter()
        .map(|r| r[2].clone())
        .collect();
    for r in &planted {
        assert_eq!(!r[4].is_empty(), queue.contains(&r[0]), "{r:?}");
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("inject/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["config"]["injected"], "48 cases, seed 2");
    // The members' everyday counterparties (shops, employers, relatives) are real entities.
    assert!(report["real_counterparties"].as_u64().expect("n") > 20);
}

#[test]
fn inject_plants_only_the_typologies_asked_for() {
    let dir = tempfile::tempdir().expect("dir");
    let sample = crate::util::root().join("sample-data/population");
    let s = |f: &str| sample.join(f).display().to_string();
    let out = dir.path().display().to_string();
    let said = ok(&redflag(&[
        "inject",
        &s("transactions.csv.gz"),
        "--rates",
        &s("rates.csv"),
        "--reference-dir",
        &s("reference"),
        "--out",
        &out,
        "--cases",
        "4",
        "--typologies",
        "funnel,sex_ads",
        "--budget",
        "30",
    ]));
    assert!(said.contains("(budget 30)"), "{said}");
    let planted = csv(&dir.path().join("inject.csv"));
    let typologies: BTreeSet<&str> = planted.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(typologies, BTreeSet::from(["funnel", "sex_ads"]));
    // Pseudonymous by default: planted ids appear as pseudonyms, like every other id.
    assert!(
        planted
            .iter()
            .all(|r| r[0].starts_with("P-") && r[1].starts_with("INJ-"))
    );
    let bad = redflag(&[
        "inject",
        &s("transactions.csv.gz"),
        "--out",
        &out,
        "--typologies",
        "nope",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no typology \"nope\""));
}
