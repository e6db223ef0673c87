//! `redflag model fit` and `redflag model score` on feature tables.

use std::fmt::Write as _;
use std::path::Path;

use crate::util::redflag;

/// A feature table: `entity_id`, `label` (1 for the 5 planted outliers), three features, a few
/// empty cells. Deterministic (a small LCG), no randomness at run time.
fn table(path: &Path, rename_last: bool) {
    let mut s = String::from(if rename_last {
        "entity_id,label,amount_z,night_share,other\n"
    } else {
        "entity_id,label,amount_z,night_share,fan_in\n"
    });
    let mut state: u64 = 12345;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    for i in 0..3000 {
        let outlier = i % 600 == 599;
        let (a, b, c) = (next(), next(), next());
        let (a, b, c) = if outlier {
            (a + 6.0, b + 5.0, c)
        } else {
            (a, b, c)
        };
        let c = if i % 97 == 0 {
            String::new()
        } else {
            format!("{c:.4}")
        };
        writeln!(s, "ACC{i:05},{},{a:.4},{b:.4},{c}", u8::from(outlier)).expect("write");
    }
    std::fs::write(path, s).expect("write table");
}

#[test]
fn fit_then_score_ranks_planted_outliers_first_and_carries_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().join("features.csv");
    table(&t, false);
    let model = dir.path().join("model.json");
    let scores = dir.path().join("scores.csv");
    let p = |p: &Path| p.to_str().expect("utf8").to_owned();
    let out = redflag(&[
        "model",
        "fit",
        "--input",
        &p(&t),
        "--out",
        &p(&model),
        "--n-trees",
        "100",
        "--seed",
        "7",
        "--exclude",
        "label",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = redflag(&[
        "model",
        "score",
        "--model",
        &p(&model),
        "--input",
        &p(&t),
        "--out",
        &p(&scores),
        "--exclude",
        "label",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&scores).expect("scores");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("entity_id,label,score,percentile"));
    let mut rows: Vec<(String, u8, f64, f64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_owned(),
                f[1].parse().expect("label"),
                f[2].parse().expect("score"),
                f[3].parse().expect("pct"),
            )
        })
        .collect();
    assert_eq!(rows.len(), 3000);
    assert!(
        rows.iter()
            .all(|r| (0.0..=1.0).contains(&r.2) && (0.0..=100.0).contains(&r.3))
    );
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    let top5: Vec<u8> = rows[..5].iter().map(|r| r.1).collect();
    assert_eq!(top5, [1, 1, 1, 1, 1], "{:?}", &rows[..6]);
    assert!(rows[0].3 > 99.0);
}

#[test]
fn fits_are_identical_on_one_and_two_threads_and_mismatches_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().join("features.csv");
    table(&t, false);
    let p = |p: &Path| p.to_str().expect("utf8").to_owned();
    let mut models = Vec::new();
    for threads in ["1", "2"] {
        let m = dir.path().join(format!("m{threads}.json"));
        let out = redflag(&[
            "--threads",
            threads,
            "model",
            "fit",
            "--input",
            &p(&t),
            "--out",
            &p(&m),
            "--exclude",
            "label",
        ]);
        assert_eq!(out.status.code(), Some(0));
        models.push(std::fs::read(&m).expect("model"));
    }
    assert_eq!(models[0], models[1], "model files are byte-identical");

    let renamed = dir.path().join("renamed.csv");
    table(&renamed, true);
    let out = redflag(&[
        "model",
        "score",
        "--model",
        &p(&dir.path().join("m1.json")),
        "--input",
        &p(&renamed),
        "--out",
        &p(&dir.path().join("s.csv")),
        "--exclude",
        "label",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing from the input: [fan_in]")
            && err.contains("not in the model: [other]"),
        "{err}"
    );
    assert!(!dir.path().join("s.csv").exists(), "nothing half-written");

    let nan = dir.path().join("nan.csv");
    std::fs::write(&nan, "id,a,b\nx,1.0,2.0\ny,NaN,3.0\nz,1.5,2.5\n").expect("write");
    let out = redflag(&[
        "model",
        "fit",
        "--input",
        &p(&nan),
        "--out",
        &p(&dir.path().join("n.json")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feature `a`") && err.contains("row 1"),
        "{err}"
    );
}
