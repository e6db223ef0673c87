//! A run whose rules and forest scores are computed by a Ballista scheduler and executor gives
//! the outputs of a local run, byte for byte. Needs the `distributed` feature (`.ci/run` runs it
//! with `--features redflag-cli/distributed`); the scheduler and executor start in this process
//! and listen on loopback only.
#![cfg(feature = "distributed")]

mod common;

use std::path::Path;

use common::engine;

#[test]
fn rules_and_forest_on_a_standalone_cluster_give_the_local_run_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tmp");
    let (local_dir, cluster_dir) = (dir.path().join("local"), dir.path().join("cluster"));
    let local = engine(&local_dir).run().expect("local run");
    let remote = engine(&cluster_dir)
        .cluster("standalone")
        .run()
        .expect("cluster run");

    // The data must make the comparison mean something: many entities alert, most on
    // several rules.
    assert!(local.alerts.len() > 20, "{} alerts", local.alerts.len());
    let reasons: usize = local.alerts.iter().map(|a| a.reasons.len()).sum();
    assert!(reasons > 2 * local.alerts.len(), "{reasons} reasons");
    assert_eq!(
        remote.manifest.config.get("cluster").map(String::as_str),
        Some("standalone")
    );
    // The in-process cluster knows redflag's scoring function: the forest ran there too.
    assert_eq!(
        remote
            .manifest
            .config
            .get("cluster_forest")
            .map(String::as_str),
        Some("cluster")
    );
    assert!(!local.manifest.config.contains_key("cluster"));

    for name in ["alerts.jsonl", "scores.csv", "alerts.csv", "alerts.parquet"] {
        let read = |d: &Path| std::fs::read(d.join(name)).expect(name);
        assert!(
            read(&local_dir) == read(&cluster_dir),
            "{name} differs between the local and the cluster run"
        );
    }
    // The staged feature table (in the output directory by default) is removed after the run.
    let left: Vec<String> = std::fs::read_dir(&cluster_dir)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".redflag-staging"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_cluster_address_nobody_listens_on_fails_before_the_run_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    // Port 1 on loopback: nothing listens there.
    let err = engine(dir.path())
        .cluster("df://127.0.0.1:1")
        .run()
        .expect_err("no scheduler");
    let text = err.to_string();
    assert!(text.contains("df://127.0.0.1:1"), "{text}");
    assert!(
        !dir.path().join("alerts.jsonl").exists(),
        "no outputs after a failed connection"
    );
    let err = engine(dir.path())
        .cluster("http://example.invalid")
        .run()
        .expect_err("not a df:// address");
    assert!(err.to_string().contains("df://HOST:PORT"), "{err}");
}
