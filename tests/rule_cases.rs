//! The rule pack's data-driven cases (`models/rules/cases/*.toml`): for every rule, rows where it
//! must fire and a benign look-alike where it must not. Each case goes the whole way a run goes:
//! CSV through ingest, entity features, then the pack.

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::AsArray;
use redflag_features::{DAY, FeatureConfig, PartyCategory, compute};
use redflag_io::MappingProfile;
use redflag_rules::{RuleEngine, RulePack};
use serde::Deserialize;

use crate::util::{ingest_with, root};

/// Day 0 of every case: 2024-03-01T00:00:00Z, in microseconds.
const DAY0: i64 = 1_709_251_200_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    rule: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// `fires` or `quiet`.
    expect: String,
    /// Entity ids (`customer:ID` for customers) the expectation is about.
    entities: Vec<String>,
    /// End of the windows, in days after day 0 (default 40).
    #[serde(default = "forty")]
    as_of: f64,
    /// CSV with a header; `day` (days after day 0, fractions allowed) stands for `ts`, and
    /// `txn_id` and `currency` (USD) are filled in when absent.
    rows: String,
    /// Reference-list entries the case needs (attributed wallets, payment processors).
    #[serde(default)]
    lists: Lists,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Lists {
    #[serde(default)]
    illicit: Vec<String>,
    #[serde(default)]
    obfuscation: Vec<String>,
    #[serde(default)]
    tppp: Vec<String>,
}

fn forty() -> f64 {
    40.0
}

/// The case rows as a canonical CSV file.
fn canonical_csv(rows: &str) -> String {
    let mut lines = rows.lines().map(str::trim).filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let day = header
        .iter()
        .position(|h| *h == "day")
        .expect("a day column");
    let mut out = String::from("txn_id,ts,currency");
    for (i, h) in header.iter().enumerate() {
        if i != day {
            out.push(',');
            out.push_str(h);
        }
    }
    out.push('\n');
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "row {}: {line}", n + 1);
        let d: f64 = fields[day].parse().expect("day");
        let ts = DAY0 + (d * DAY as f64) as i64;
        let ts = chrono::DateTime::from_timestamp_micros(ts)
            .expect("ts")
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        out.push_str(&format!("c{n},{ts},USD"));
        for (i, f) in fields.iter().enumerate() {
            if i != day {
                out.push(',');
                out.push_str(f);
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_rule_has_a_case_that_fires_and_a_look_alike_that_stays_quiet() {
    let engine = RuleEngine::new(RulePack::builtin()).expect("pack");
    let dir = root().join("models/rules/cases");
    let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let text = std::fs::read_to_string(path).expect("read case file");
        let file: CaseFile =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let rule = engine
            .rules()
            .iter()
            .position(|r| r.rule.id == file.rule)
            .unwrap_or_else(|| panic!("{}: no rule {}", path.display(), file.rule));
        for case in &file.cases {
            let csv = tmp.path().join("case.csv");
            std::fs::write(&csv, canonical_csv(&case.rows)).expect("write csv");
            let (got, rejects) = ingest_with(
                &[Path::new(&csv)],
                MappingProfile::builtin("canonical").expect("profile"),
                None,
            )
            .unwrap_or_else(|e| panic!("{} / {}: {e}", file.rule, case.name));
            assert!(
                rejects.is_empty(),
                "{} / {}: rejected rows {rejects:?}",
                file.rule,
                case.name
            );
            let mut cfg = FeatureConfig {
                as_of: Some(DAY0 + (case.as_of * DAY as f64) as i64),
                ..FeatureConfig::default()
            };
            for (ids, cat) in [
                (&case.lists.illicit, PartyCategory::Illicit),
                (&case.lists.obfuscation, PartyCategory::Obfuscation),
                (&case.lists.tppp, PartyCategory::PaymentProcessor),
            ] {
                cfg.party_categories
                    .extend(ids.iter().map(|id| (id.clone(), cat)));
            }
            let features = compute(&got.batches, &cfg).expect("features").batch;
            let ev = engine.evaluate(&features).expect("evaluate");
            let ids = features.column(0).as_string::<i32>();
            let kinds = features.column(1).as_string::<i32>();
            for entity in &case.entities {
                let (kind, id) = match entity.strip_prefix("customer:") {
                    Some(id) => (Some("customer"), id),
                    None => (None, entity.as_str()),
                };
                let row = (0..features.num_rows())
                    .find(|&r| {
                        ids.value(r) == id
                            && kind.is_none_or(|k| kinds.value(r) == k)
                            && (kind.is_some() || kinds.value(r) != "customer")
                    })
                    .unwrap_or_else(|| panic!("{} / {}: no entity {entity}", file.rule, case.name));
                let hit = ev.hits_of(row).iter().find(|h| h.rule == rule);
                match case.expect.as_str() {
                    "fires" => {
                        let h = hit.unwrap_or_else(|| {
                            panic!("{} / {}: {entity} should fire", file.rule, case.name)
                        });
                        assert!(
                            !h.reason.contains("{"),
                            "reason template left unfilled: {}",
                            h.reason
                        );
                        if engine.rules()[rule].rule.hard {
                            assert!(
                                ev.alerted[row],
                                "{} / {}: a hard match alerts on its own",
                                file.rule, case.name
                            );
                        }
                    }
                    "quiet" => assert!(
                        hit.is_none(),
                        "{} / {}: {entity} should stay quiet but fired: {}",
                        file.rule,
                        case.name,
                        hit.map(|h| h.reason.as_str()).unwrap_or_default()
                    ),
                    other => panic!(
                        "{}: expect is `fires` or `quiet`, not {other}",
                        path.display()
                    ),
                }
            }
            covered.insert((file.rule.clone(), case.expect.clone()));
        }
    }
    let missing: Vec<String> = engine
        .rules()
        .iter()
        .flat_map(|r| ["fires", "quiet"].map(|e| (r.rule.id.clone(), e.to_owned())))
        .filter(|k| !covered.contains(k))
        .map(|(id, e)| format!("{id} ({e})"))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a case: {}",
        missing.join(", ")
    );
}
