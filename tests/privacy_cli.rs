//! Pseudonymous by default: `redflag run` writes keyed pseudonyms and an encrypted map,
//! `redflag reveal` maps one back and logs it, `redflag audit verify` finds a tampered log.

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::{TEST_KEY, ok, pseudonym, redflag, sample};

/// Every party id of the sample input (senders, receivers, customers, devices).
fn raw_ids() -> BTreeSet<String> {
    let text = std::fs::read_to_string(sample("transactions.csv")).expect("sample");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let cols: Vec<usize> = [
        "sender_id",
        "receiver_id",
        "sender_customer_id",
        "receiver_customer_id",
        "device_id",
    ]
    .iter()
    .map(|c| header.iter().position(|h| h == c).expect("column"))
    .collect();
    let mut ids = BTreeSet::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        for &c in &cols {
            if f.get(c).is_some_and(|v| v.len() >= 5) {
                ids.insert(f[c].to_owned());
            }
        }
    }
    ids
}

fn run(out: &Path, extra: &[&str]) -> String {
    let out = out.display().to_string();
    let (input, rates) = (sample("transactions.csv"), sample("rates.csv"));
    let mut args = vec![
        "run", &input, "--rates", &rates, "--out", &out, "--seed", "7",
    ];
    args.extend(extra);
    ok(&redflag(&args))
}

/// The first line of a run's alerts.jsonl.
fn first_alert(dir: &Path) -> serde_json::Value {
    serde_json::from_str(read(dir, "alerts.jsonl").lines().next().expect("alert")).expect("json")
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect(name)
}

#[test]
fn outputs_hold_pseudonyms_only_and_a_reveal_is_logged() {
    let dir = tempfile::tempdir().expect("dir");
    let stdout = run(dir.path(), &[]);
    let key = redflag::privacy::Key::from_hex(TEST_KEY).expect("key");
    assert!(stdout.contains(&key.fingerprint()), "{stdout}");

    let raw = raw_ids();
    assert!(raw.len() > 100, "{} ids", raw.len());
    for name in [
        "alerts.jsonl",
        "alerts.csv",
        "scores.csv",
        "report.html",
        "manifest.json",
        "rejected.csv",
        "reveal.map",
    ] {
        let text = read(dir.path(), name);
        if let Some(id) = raw.iter().find(|id| text.contains(id.as_str())) {
            panic!("{name} holds the raw id {id}");
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&read(dir.path(), "manifest.json")).expect("json");
    assert_eq!(manifest["ids"]["mode"], "pseudonymous");
    assert_eq!(
        manifest["ids"]["key_fingerprint"],
        key.fingerprint().as_str()
    );
    // Every scored entity is a pseudonym of an input id.
    let scores = read(dir.path(), "scores.csv");
    let expected: BTreeSet<String> = raw.iter().map(|id| pseudonym(id)).collect();
    for line in scores.lines().skip(1) {
        let id = line.split(',').next().expect("id");
        assert!(id.starts_with("P-") && id.len() == 18, "{line}");
        assert!(expected.contains(id), "{id} is no input id's pseudonym");
    }
    // The rejected records keep where they are, not what they hold.
    let rejected = read(dir.path(), "rejected.csv");
    assert!(rejected.lines().count() > 1, "the sample has rejects");
    assert!(
        rejected.lines().skip(1).all(|l| l.ends_with(',')),
        "{rejected}"
    );

    // Reveal the first alert: the raw id, whose pseudonym the alert shows.
    let first = first_alert(dir.path());
    let alert_id = first["alert_id"].as_str().expect("id");
    let log = dir.path().join("audit.log");
    let (run_dir, log_arg) = (dir.path().display().to_string(), log.display().to_string());
    let reveal = |target: &str, purpose: &str| {
        redflag(&[
            "reveal",
            target,
            "--run",
            &run_dir,
            "--purpose",
            purpose,
            "--analyst",
            "a.chen",
            "--audit-log",
            &log_arg,
        ])
    };
    let got = ok(&reveal(alert_id, "STR draft for the case"));
    let raw_id = got.trim();
    assert!(raw.contains(raw_id), "{raw_id}");
    assert_eq!(pseudonym(raw_id), first["entity_id"].as_str().expect("id"));
    // By pseudonym too, from scores.csv (any scored entity).
    let last = scores
        .lines()
        .last()
        .expect("row")
        .split(',')
        .next()
        .expect("id");
    let got = ok(&reveal(last, "checking a low-risk entity"));
    assert_eq!(pseudonym(got.trim()), last);

    let text = read(dir.path(), "audit.log");
    assert_eq!(text.lines().count(), 2);
    for (line, (target, purpose)) in text.lines().zip([
        (alert_id, "STR draft for the case"),
        (last, "checking a low-risk entity"),
    ]) {
        let e: serde_json::Value = serde_json::from_str(line).expect("json");
        assert_eq!(
            (e["target"].as_str(), e["purpose"].as_str()),
            (Some(target), Some(purpose))
        );
        assert_eq!(e["who"], "a.chen");
        assert_eq!(e["action"], "reveal");
    }
    assert!(!text.contains(raw_id), "the log holds no raw id");

    let verify = || redflag(&["audit", "verify", "--audit-log", &log_arg]);
    let good = verify();
    assert!(ok(&good).contains("intact, 2 entries"));

    // An edited purpose is found, and nothing more is revealed until the log is repaired.
    std::fs::write(
        &log,
        text.replace("checking a low-risk", "checking a high-risk"),
    )
    .expect("w");
    let bad = verify();
    assert_eq!(bad.status.code(), Some(1));
    let said = String::from_utf8_lossy(&bad.stdout);
    assert!(
        said.contains("BROKEN at line 2") && said.contains("edited"),
        "{said}"
    );
    let refused = reveal(alert_id, "again");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        refused.stdout.is_empty(),
        "nothing revealed from a broken log"
    );

    // A deleted first line is found at the line that followed it.
    std::fs::write(&log, text.lines().nth(1).expect("line")).expect("w");
    let said = String::from_utf8_lossy(&verify().stdout).into_owned();
    assert!(
        said.contains("BROKEN at line 1") && said.contains("deleted"),
        "{said}"
    );
}

#[test]
fn reveal_needs_the_runs_key_and_a_purpose() {
    let dir = tempfile::tempdir().expect("dir");
    run(dir.path(), &["--budget", "3"]);
    let other = dir.path().join("other.key");
    std::fs::write(&other, "ab".repeat(32)).expect("key");
    let first = first_alert(dir.path());
    let log = dir.path().join("audit.log");
    let (run_dir, log_arg) = (dir.path().display().to_string(), log.display().to_string());
    let id = first["alert_id"].as_str().expect("id");
    let wrong = redflag(&[
        "reveal",
        id,
        "--run",
        &run_dir,
        "--purpose",
        "case review",
        "--key-file",
        &other.display().to_string(),
        "--audit-log",
        &log_arg,
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("written under key"), "{err}");
    assert!(!log.exists(), "a failed reveal logs nothing");
    let blank = redflag(&[
        "reveal",
        id,
        "--run",
        &run_dir,
        "--purpose",
        " ",
        "--audit-log",
        &log_arg,
    ]);
    assert_eq!(blank.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&blank.stderr).contains("--purpose"));
    let missing = redflag(&[
        "reveal",
        "A-000000000000",
        "--run",
        &run_dir,
        "--purpose",
        "x y z",
    ]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no alert A-000000000000"));
}

#[test]
fn raw_ids_are_a_choice_recorded_in_the_manifest() {
    let dir = tempfile::tempdir().expect("dir");
    run(dir.path(), &["--raw-ids"]);
    let manifest: serde_json::Value =
        serde_json::from_str(&read(dir.path(), "manifest.json")).expect("json");
    assert_eq!(manifest["ids"]["mode"], "raw");
    assert!(!dir.path().join("reveal.map").exists());
    let raw = raw_ids();
    let scores = read(dir.path(), "scores.csv");
    assert!(
        scores
            .lines()
            .skip(1)
            .all(|l| raw.contains(l.split(',').next().expect("id")))
    );
    // The same entities, ranked the same, as the pseudonymous run.
    let pseudo = tempfile::tempdir().expect("dir");
    run(pseudo.path(), &[]);
    let ranked = |text: &str| -> Vec<String> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').next().expect("id").to_owned())
            .collect()
    };
    let mapped: Vec<String> = ranked(&scores).iter().map(|id| pseudonym(id)).collect();
    assert_eq!(mapped, ranked(&read(pseudo.path(), "scores.csv")));
}

#[test]
fn the_key_is_created_private_on_first_use_and_kept() {
    let home = tempfile::tempdir().expect("home");
    let input = sample("transactions.csv");
    let go = |out: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_redflag"))
            .args(["run", &input, "--budget", "2", "--out"])
            .arg(out)
            .env("REDFLAG_HOME", home.path().join("rf"))
            .env_remove("REDFLAG_KEY_FILE")
            .output()
            .expect("run")
    };
    let (a, b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let first = go(a.path());
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains("created the pseudonymisation key"));
    let key = home.path().join("rf/key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = go(b.path());
    assert!(!String::from_utf8_lossy(&second.stderr).contains("created"));
    assert_eq!(read(a.path(), "scores.csv"), read(b.path(), "scores.csv"));
    // The tests' fixed key is another key: another fingerprint, other pseudonyms.
    let c = tempfile::tempdir().expect("c");
    run(c.path(), &["--budget", "2"]);
    assert_ne!(
        read(a.path(), "reveal.map").lines().next(),
        read(c.path(), "reveal.map").lines().next()
    );
    assert_ne!(read(a.path(), "scores.csv"), read(c.path(), "scores.csv"));
}
