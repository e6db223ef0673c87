//! `redflag rules list | check | explain`, and hostile rule packs.

use crate::util::{redflag, root};

fn pack_with(when: &str) -> String {
    format!(
        r#"[pack]
name = "mine"
version = "0.1"

[[rule]]
id = "X-1"
name = "x_test"
group = "ST"
typology = "test"
severity = "low"
weight = 0.5
when = {when:?}
reason = "{{n_in_30d}} credits"
sources = ["test"]
"#
    )
}

#[test]
fn list_and_explain_the_builtin_pack() {
    let out = redflag(&["rules", "list", "--json"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let rules: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(rules.len() >= 30, "{} rules", rules.len());
    for r in &rules {
        assert!(!r["sources"].as_array().expect("sources").is_empty(), "{r}");
        assert!(
            ["SE", "LE", "FN", "ST", "PT", "CR", "GR"]
                .contains(&r["group"].as_str().expect("group"))
        );
    }
    let out = redflag(&["rules", "explain", "fn-1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fn_multi_region_cash_remote_withdrawal"),
        "{text}"
    );
    assert!(text.contains("remote_out_ratio_30d >= 0.7"), "{text}");
    assert!(text.contains("source    FC20 p.4, p.8"), "{text}");
    let out = redflag(&["rules", "explain", "ZZ-9"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_accepts_the_builtin_pack_file() {
    let path = root().join("models/rules/trafficking.toml");
    let out = redflag(&["rules", "check", &path.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
}

#[test]
fn check_refuses_hostile_expressions_naming_rule_and_construct() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "n_in_30d > (SELECT count(*) FROM entity_features)",
            "subquery",
        ),
        (
            "read_parquet('/etc/passwd') IS NOT NULL",
            "function `read_parquet` is not accepted",
        ),
        (
            "n_in_30d > 1; DROP TABLE entity_features",
            "a second statement (`;`) is not allowed",
        ),
        (
            "n_in_30 > 1",
            "unknown column `n_in_30` (did you mean `n_in_30d`?)",
        ),
        ("EXISTS (SELECT * FROM read_csv('x'))", "subquery"),
    ];
    for (when, want) in cases {
        let path = dir.path().join("pack.toml");
        std::fs::write(&path, pack_with(when)).expect("write");
        let out = redflag(&["rules", "check", &path.display().to_string()]);
        assert_eq!(out.status.code(), Some(2), "{when}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("rule X-1, `when`"), "{when}: {err}");
        assert!(err.contains(want), "{when}: {err}");
    }
}

#[test]
fn check_lists_every_problem_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pack.toml");
    let text = pack_with("n_in_30d > 1")
        .replace("group = \"ST\"", "group = \"XX\"")
        .replace("weight = 0.5", "weight = 1.5")
        .replace("{n_in_30d} credits", "{no_such_column} credits");
    std::fs::write(&path, text).expect("write");
    let out = redflag(&["rules", "check", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "unknown group `XX`",
        "1.5 is not in (0, 1]",
        "unknown column `no_such_column`",
        "3 error(s)",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    std::fs::write(&path, "[pack]\nname = 1\n").expect("write");
    let out = redflag(&["rules", "check", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pack.toml"));
}

#[test]
fn a_country_list_cannot_fire_a_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pack.toml");
    std::fs::write(&path, pack_with("corridor_out_share_30d >= 0.5")).expect("write");
    let out = redflag(&["rules", "check", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("may only raise severity"));
}
