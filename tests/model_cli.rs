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
    // Scoring that must fail, write nothing, and say why (stderr).
    let refused = |input: &Path, extra: &[&str]| -> String {
        let (model, scores) = (p(&dir.path().join("m1.json")), p(&dir.path().join("s.csv")));
        let mut args = vec!["model", "score", "--model", &model, "--out", &scores];
        let input = p(input);
        args.extend(["--input", &input]);
        args.extend(extra);
        let out = redflag(&args);
        assert_eq!(out.status.code(), Some(2));
        assert!(!dir.path().join("s.csv").exists(), "nothing half-written");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused(&renamed, &["--exclude", "label"]);
    assert!(
        err.contains("missing from the input: [fan_in]")
            && err.contains("not in the model: [other]"),
        "{err}"
    );
    // The training table without the fit's --exclude: the extra column is named, with the
    // flag that carries it through.
    let err = refused(&t, &[]);
    assert!(
        err.contains("not in the model: [label]") && err.contains("pass --exclude label"),
        "{err}"
    );

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

/// Parquet is read row group by row group straight into the matrix: the same table as
/// Parquet (several row groups, nulls for the empty cells) and as CSV gives the same model,
/// byte for byte, and the same scores.
#[test]
fn parquet_row_groups_give_the_model_and_scores_of_the_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("features.csv");
    table(&csv, false);
    let (schema, batches) = redflag_io::read_table(&csv).expect("read csv");
    let pq = dir.path().join("features.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(700))
        .build();
    let file = std::fs::File::create(&pq).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    for b in &batches {
        w.write(b).expect("write");
    }
    w.close().expect("close");
    let groups = redflag_io::ParquetTable::open(&pq)
        .expect("open")
        .expect("parquet")
        .group_rows();
    assert_eq!(groups, [700, 700, 700, 700, 200]);
    let p = |p: &Path| p.to_str().expect("utf8").to_owned();
    let mut outputs = Vec::new();
    for (input, tag) in [(&csv, "csv"), (&pq, "parquet")] {
        let model = dir.path().join(format!("model-{tag}.json"));
        let scores = dir.path().join(format!("scores-{tag}.csv"));
        for args in [
            vec!["model", "fit", "--input", &p(input), "--out", &p(&model)],
            vec![
                "model",
                "score",
                "--model",
                &p(&model),
                "--input",
                &p(input),
                "--out",
                &p(&scores),
            ],
        ] {
            let mut args = args;
            args.extend(["--exclude", "label"]);
            let out = redflag(&args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{tag}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        outputs.push((
            std::fs::read(&model).expect("model"),
            std::fs::read(&scores).expect("scores"),
        ));
    }
    assert!(
        outputs[0].0 == outputs[1].0,
        "same model from CSV and Parquet"
    );
    assert!(
        outputs[0].1 == outputs[1].1,
        "same scores from CSV and Parquet"
    );
}
