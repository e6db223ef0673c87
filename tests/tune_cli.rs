//! `redflag tune`: rule threshold and alert-policy sweeps on the labelled sample population.

use std::collections::BTreeMap;

use crate::util::{csv_rows, redflag, root};

#[test]
fn tune_sweeps_every_rule_and_the_policy_consistently_with_run() {
    let sample = root().join("sample-data/population");
    let s = |f: &str| sample.join(f).display().to_string();
    let dir = tempfile::tempdir().expect("dir");
    let (tune_dir, run_dir) = (dir.path().join("tune"), dir.path().join("run"));
    let common = [
        s("transactions.csv.gz"),
        "--rates".into(),
        s("rates.csv"),
        "--reference-dir".into(),
        s("reference"),
    ];
    let mut args: Vec<String> = vec!["tune".into()];
    args.extend(common.iter().cloned());
    args.extend([
        "--labels".into(),
        s("account_labels.csv"),
        "--out".into(),
        tune_dir.display().to_string(),
    ]);
    let out = redflag(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("labelled positive") && said.contains("alert policy now"),
        "{said}"
    );

    // Nine strictness settings per rule; firing never grows as a rule gets stricter.
    let sweep = csv_rows(&tune_dir.join("tune_rules.csv"));
    let mut by_rule: BTreeMap<&str, Vec<(f64, usize, usize)>> = BTreeMap::new();
    for r in &sweep {
        let n = |k: &str| {
            r[k].parse::<usize>()
                .unwrap_or_else(|_| panic!("{k} in {r:?}"))
        };
        by_rule.entry(&r["rule_id"]).or_default().push((
            r["scale"].parse().expect("scale"),
            n("fires"),
            n("alerts"),
        ));
    }
    assert!(by_rule.len() >= 30, "{} rules swept", by_rule.len());
    for (rule, s) in &by_rule {
        assert_eq!(s.len(), 9, "{rule}");
        for w in s.windows(2) {
            assert!(w[0].0 < w[1].0 && w[0].1 >= w[1].1, "{rule}: {s:?}");
        }
    }
    // Loosening the structuring rule ST-1 by half fires on more entities than as written.
    let st1 = &by_rule["ST-1"];
    assert!(st1[0].1 > st1[4].1, "{st1:?}");

    // The current policy alerts exactly the entities `redflag run` alerts by rules.
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(common.iter().cloned());
    args.extend(["--out".into(), run_dir.display().to_string()]);
    let run = redflag(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.status.success());
    let by_rules = std::fs::read_to_string(run_dir.join("alerts.jsonl"))
        .expect("alerts")
        .lines()
        .filter(|l| l.contains("\"anomaly_only\":false"))
        .count();
    let policies = csv_rows(&tune_dir.join("tune_policy.csv"));
    let current: Vec<_> = policies.iter().filter(|p| p["current"] == "true").collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["alerts"].parse::<usize>().expect("n"), by_rules);
    // The laxest policy (one rule) alerts at least as many, with at least the recall.
    let lax = policies
        .iter()
        .find(|p| p["min_rules"] == "1" && p["hard_alerts_alone"] == "false")
        .expect("one-rule policy");
    let num = |p: &BTreeMap<String, String>, k: &str| p[k].parse::<f64>().expect("number");
    assert!(num(lax, "alerts") >= num(current[0], "alerts"));
    assert!(num(lax, "recall") >= num(current[0], "recall"));
    assert!(num(current[0], "precision") > 0.3, "{current:?}");

    // Below the line: pseudonymous, at most 20 per rule, closest first.
    let below = csv_rows(&tune_dir.join("below_the_line.csv"));
    assert!(!below.is_empty());
    let mut per: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for b in &below {
        assert!(b["entity_id"].starts_with("P-"), "{b:?}");
        per.entry(&b["rule_id"])
            .or_default()
            .push(b["gap"].parse().expect("gap"));
    }
    for gaps in per.values() {
        assert!(
            gaps.len() <= 20 && gaps.windows(2).all(|w| w[0] <= w[1]),
            "{gaps:?}"
        );
    }
    let html = std::fs::read_to_string(tune_dir.join("tune.html")).expect("html");
    assert!(html.contains("<svg") && html.contains("<polyline") && html.contains("Alert policy"));
}
