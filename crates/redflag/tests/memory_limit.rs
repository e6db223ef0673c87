//! A run under a memory limit spills the accepted transactions to disk and computes the
//! features one range of entities at a time: its outputs must be the unlimited run's, byte for
//! byte, whatever the number of ranges, and the spill must be gone afterwards.

mod common;

use std::path::Path;

use common::engine;

/// Names in `dir` that start with `prefix`.
fn left_in(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn a_memory_limited_run_gives_the_unlimited_run_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tmp");
    let plain_dir = dir.path().join("plain");
    let plain = engine(&plain_dir).run().expect("unlimited run");
    // The data must make the comparison mean something: many entities alert, most on several
    // rules, and customers are among the entities.
    assert!(plain.alerts.len() > 20, "{} alerts", plain.alerts.len());
    let reasons: usize = plain.alerts.iter().map(|a| a.reasons.len()).sum();
    assert!(reasons > 2 * plain.alerts.len(), "{reasons} reasons");
    assert!(!plain.manifest.config.contains_key("partitions"));

    // 66,256 transactions: 4 MiB gives 7 ranges, 256 KiB 98 (about 34 entities each).
    for (limit, spill) in [
        (4u64 << 20, None),
        (256 << 10, Some(dir.path().join("spill"))),
    ] {
        let out = dir.path().join(format!("limit-{limit}"));
        let mut e = engine(&out).memory_limit(limit);
        if let Some(s) = &spill {
            std::fs::create_dir_all(s).expect("spill dir");
            e = e.spill_dir(s);
        }
        let got = e.run().expect("limited run");
        let config = &got.manifest.config;
        assert_eq!(config.get("memory_limit"), Some(&limit.to_string()));
        let partitions: usize = config["partitions"].parse().expect("partitions");
        assert!(partitions > 1, "{partitions} partitions at {limit} bytes");
        for name in [
            "alerts.jsonl",
            "scores.csv",
            "alerts.csv",
            "alerts.parquet",
            "rejected.csv",
            "reveal.map",
        ] {
            let read = |d: &Path| std::fs::read(d.join(name)).ok();
            assert!(
                read(&plain_dir).is_some() || name == "reveal.map",
                "{name} written"
            );
            assert!(
                read(&plain_dir) == read(&out),
                "{name} differs between the unlimited run and one limited to {limit} bytes \
                 ({partitions} partitions)"
            );
        }
        assert_eq!(got.manifest.ingest, plain.manifest.ingest);
        // The spill is removed after the run, wherever it was.
        let at = spill.as_deref().unwrap_or(&out);
        assert!(
            left_in(at, ".redflag-spill").is_empty(),
            "spill left in {}",
            at.display()
        );
    }
}

#[test]
fn a_run_that_fails_after_spilling_removes_the_spill() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    // A model file for other features fails the run after ingest and the feature pass.
    let model = dir.path().join("model.json");
    let wrong = {
        use linfa::ParamGuard;
        use ndarray::Array2;
        use redflag_iforest::{IsolationForest, IsolationForestParams};
        let x = Array2::from_shape_fn((64, 2), |(i, j)| (i * (j + 1)) as f64);
        let params = IsolationForestParams::new()
            .n_trees(2)
            .sample_size(16)
            .check()
            .expect("params");
        IsolationForest::fit_named(&params, x.view(), vec!["a".into(), "b".into()])
            .expect("fit")
            .to_json()
    };
    std::fs::write(&model, wrong).expect("model");
    let err = engine(&out)
        .memory_limit(1 << 20)
        .model_file(&model)
        .run()
        .expect_err("features do not match the model");
    assert!(!err.to_string().is_empty());
    assert!(left_in(&out, ".redflag-spill").is_empty());
}

/// The jobs that hold the whole table in memory refuse a limit before reading anything, rather
/// than run past it.
#[test]
fn jobs_that_hold_the_table_refuse_a_memory_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    let limited = engine(&out).memory_limit(64 << 20);
    let ingested = engine(&dir.path().join("read")).ingest().expect("ingest");
    let refused = [
        ("run_on", limited.run_on(&ingested).map(|_| ())),
        ("tune", redflag::tune::tune(&limited, None).map(|_| ())),
        (
            "inject",
            redflag::inject::inject(
                &limited,
                &redflag::inject::InjectParams {
                    cases: 4,
                    typologies: Vec::new(),
                    seed: 1,
                },
            )
            .map(|_| ()),
        ),
    ];
    for (what, got) in refused {
        let e = got.expect_err(what).to_string();
        assert!(
            e.contains("memory limit 67108864 bytes") && e.contains("in memory"),
            "{what}: {e}"
        );
    }
    assert!(!out.exists(), "nothing written");
    // The same engine without the limit runs.
    engine(&out).run_on(&ingested).expect("unlimited run_on");
    assert!(out.join("alerts.jsonl").exists());
}
