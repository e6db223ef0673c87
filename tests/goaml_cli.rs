//! `redflag export goaml`: a structurally valid STR draft from a run's alerts, identities
//! logged, victims refused, stale inputs refused.

use std::collections::BTreeSet;
use std::path::Path;

use redflag::goaml::{Node, validate};

use crate::util::{ok, pseudonym, redflag, root};

fn alerts(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("alerts.jsonl"))
        .expect("alerts")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// Runs on a copy of the sample population (so that a test may change the input).
fn run(extra: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let sample = root().join("sample-data/population");
    let dir = tempfile::tempdir().expect("dir");
    let input = dir.path().join("transactions.csv.gz");
    std::fs::copy(sample.join("transactions.csv.gz"), &input).expect("copy");
    let out = dir.path().join("out");
    let s = |f: &str| sample.join(f).display().to_string();
    let (i, o) = (input.display().to_string(), out.display().to_string());
    let mut args = vec![
        "run",
        &i,
        "--rates",
        &s("rates.csv"),
        "--reference-dir",
        &s("reference"),
        "--out",
        &o,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&redflag(&args));
    (dir, out)
}

fn export(
    run_dir: &Path,
    ids: &str,
    out: &Path,
    log: &Path,
    extra: &[&str],
) -> std::process::Output {
    let entity = root().join("sample-data/goaml/reporting_entity.toml");
    let (r, e, o, l) = (
        run_dir.display().to_string(),
        entity.display().to_string(),
        out.display().to_string(),
        log.display().to_string(),
    );
    let mut args = vec![
        "export",
        "goaml",
        "--alerts",
        &r,
        "--ids",
        ids,
        "--entity",
        &e,
        "--out",
        &o,
        "--purpose",
        "STR draft for review",
        "--analyst",
        "a.chen",
        "--audit-log",
        &l,
        "--submission-date",
        "2024-05-02T09:00:00",
    ];
    args.extend(extra);
    redflag(&args)
}

#[test]
fn a_controller_alert_becomes_a_valid_str_draft_and_every_identity_is_logged() {
    let (dir, out) = run(&[]);
    let all = alerts(&out);
    let subject = all
        .iter()
        .find(|a| a["role_hint"] == "possible_controller" && a["entity_kind"] == "account")
        .expect("a controller account alert");
    let id = subject["alert_id"].as_str().expect("id");
    let xml_path = dir.path().join("str.xml");
    let log = dir.path().join("audit.log");
    let got = export(&out, id, &xml_path, &log, &[]);
    let said = ok(&got);
    assert!(String::from_utf8_lossy(&got.stderr).contains("template's placeholders"));

    let xml = std::fs::read_to_string(&xml_path).expect("xml");
    let report = Node::parse(&xml).expect("parses");
    assert_eq!(validate(&report), Vec::<String>::new());
    assert_eq!(report.name, "report");
    let header: Vec<&str> = report
        .children
        .iter()
        .take(9)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        header,
        [
            "rentity_id",
            "rentity_branch",
            "submission_code",
            "report_code",
            "entity_reference",
            "submission_date",
            "currency_code_local",
            "reporting_person",
            "reason"
        ]
    );
    assert_eq!(
        report.child("rentity_id").and_then(|n| n.text.as_deref()),
        Some("4711")
    );
    // Every evidence transaction of the alert, once.
    let evidence: BTreeSet<&str> = subject["evidence_txn_ids"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|t| t.as_str().expect("id"))
        .collect();
    let numbers: BTreeSet<&str> = report
        .children
        .iter()
        .filter(|c| c.name == "transaction")
        .map(|t| {
            t.child("transactionnumber")
                .and_then(|n| n.text.as_deref())
                .expect("number")
        })
        .collect();
    assert_eq!(numbers, evidence);
    assert!(
        said.contains(&format!("with {} transactions", evidence.len())),
        "{said}"
    );
    // The subject's account appears raw, as a client of the reporting institution.
    let raw_subject = xml
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("<account>")?
                .strip_suffix("</account>")
        })
        .find(|a| pseudonym(a) == subject["entity_id"].as_str().expect("id"))
        .expect("the subject's raw account number");
    assert!(xml.contains("<t_from_my_client>") || xml.contains("<t_to_my_client>"));
    // Indicators: one per fired rule, through the template's codes.
    let rules: BTreeSet<String> = subject["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| format!("RF-{}", r["rule_id"].as_str().expect("rule")))
        .collect();
    let indicators: BTreeSet<String> = report
        .child("report_indicators")
        .expect("indicators")
        .children
        .iter()
        .map(|n| n.text.clone().expect("code"))
        .collect();
    assert_eq!(indicators, rules);

    // The audit log: one export-goaml line per party, pseudonyms only, chain intact.
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains(raw_subject), "no raw id in the log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["action"] == "export-goaml" && l["target"] == id)
    );
    assert!(lines.iter().any(|l| l["pseudonym"] == subject["entity_id"]));
    assert!(
        said.contains(&format!("{} identities logged", lines.len())),
        "{said}"
    );
    let verify = redflag(&["audit", "verify", "--audit-log", &log.display().to_string()]);
    assert!(ok(&verify).contains("intact"));
}

#[test]
fn victims_unknown_rules_and_changed_inputs_are_refused() {
    let (dir, out) = run(&[]);
    let all = alerts(&out);
    let log = dir.path().join("audit.log");
    let xml = dir.path().join("str.xml");
    let victim = all
        .iter()
        .find(|a| a["role_hint"] == "possible_victim")
        .expect("a possible victim");
    let refused = export(
        &out,
        victim["alert_id"].as_str().expect("id"),
        &xml,
        &log,
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("possible victim"));

    let controller = all
        .iter()
        .find(|a| a["role_hint"] == "possible_controller")
        .expect("a controller");
    let id = controller["alert_id"].as_str().expect("id");
    let first_rule = controller["reasons"][0]["rule_id"].as_str().expect("rule");
    let partial = dir.path().join("fiu.toml");
    std::fs::write(
        &partial,
        "fiu = \"test\"\n[indicators]\n\"XX-1\" = \"1\"\n[transmode]\nother = \"O\"\n[funds]\nother = \"A\"\n",
    )
    .expect("fiu");
    let unmapped = export(
        &out,
        id,
        &xml,
        &log,
        &["--fiu", &partial.display().to_string()],
    );
    let err = String::from_utf8_lossy(&unmapped.stderr);
    assert!(
        err.contains(&format!("no indicator for rule {first_rule}")),
        "{err}"
    );

    // The input changes after the run: its evidence can no longer be trusted.
    let input = dir.path().join("transactions.csv.gz");
    let mut bytes = std::fs::read(&input).expect("input");
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&input, bytes).expect("write");
    let stale = export(&out, id, &xml, &log, &[]);
    let err = String::from_utf8_lossy(&stale.stderr);
    assert!(err.contains("changed since the run"), "{err}");
    assert!(!xml.exists(), "nothing written by a refused export");
    assert!(!log.exists(), "nothing logged by a refused export");
}

#[test]
fn a_raw_run_exports_without_a_key_or_log() {
    let (dir, out) = run(&["--raw-ids"]);
    let id = alerts(&out)
        .iter()
        .find(|a| a["role_hint"] == "possible_controller")
        .map(|a| a["alert_id"].as_str().expect("id").to_owned())
        .expect("controller");
    let log = dir.path().join("audit.log");
    let xml = dir.path().join("str.xml");
    let said = ok(&export(
        &out,
        &id,
        &xml,
        &log,
        &["--key-file", "/nonexistent/key"],
    ));
    assert!(!said.contains("logged"), "{said}");
    assert!(!log.exists());
    assert!(
        validate(&Node::parse(&std::fs::read_to_string(&xml).expect("xml")).expect("xml"))
            .is_empty()
    );
}
