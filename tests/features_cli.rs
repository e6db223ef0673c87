//! `redflag features`: the entity feature table of the sample data, and the catalogue.

use arrow::array::{Array, AsArray};
use arrow::datatypes::UInt32Type;
use redflag_features::CATALOG;
use redflag_io::read_table;

use crate::util::{redflag, sample};

#[test]
fn list_prints_every_feature_with_its_window_and_unit() {
    let out = redflag(&["features", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(
        text.lines().count(),
        CATALOG.len() + 1,
        "a header, then one line per feature"
    );
    for d in CATALOG {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(d.name))
            .unwrap_or_else(|| panic!("{} not listed", d.name));
        assert!(
            line.contains(d.unit.as_str()) && line.contains(d.window),
            "{line}"
        );
    }
}

#[test]
fn features_of_the_sample_data_one_row_per_entity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("features.parquet");
    let out = redflag(&[
        "features",
        &sample("transactions.csv"),
        "--rates",
        &sample("rates.csv"),
        "--out",
        &out_path.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3040 transactions"), "{stdout}");
    let (schema, batches) = read_table(&out_path).expect("read features");
    assert_eq!(schema.fields().len(), CATALOG.len() + 3);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert!(rows > 100, "{rows} entities");
    // Ids are unique per kind, and CASH is never an entity.
    let mut keys = Vec::new();
    for b in &batches {
        let ids = b.column(0).as_string::<i32>();
        let kinds = b.column(1).as_string::<i32>();
        for i in 0..b.num_rows() {
            assert_ne!(ids.value(i), "CASH");
            // Pseudonymous by default, like every output.
            assert!(ids.value(i).starts_with("P-") && ids.value(i).len() == 18);
            keys.push((kinds.value(i).to_owned(), ids.value(i).to_owned()));
        }
        let n_in = b.column_by_name("n_in_30d").expect("n_in_30d");
        assert_eq!(n_in.null_count(), 0);
        assert!(
            n_in.as_primitive::<UInt32Type>()
                .values()
                .iter()
                .any(|v| *v > 0)
        );
    }
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n);
    // Written atomically: nothing else is left in the directory.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("features.parquet")]);
}

#[test]
fn as_of_moves_the_windows_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("f.csv");
    let run = |as_of: &str| {
        redflag(&[
            "features",
            &sample("transactions.csv"),
            "--rates",
            &sample("rates.csv"),
            "--as-of",
            as_of,
            "--out",
            &csv.display().to_string(),
        ])
    };
    let out = run("2024-03-01T00:00:00Z");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("as of 2024-03-01T00:00:00+00:00"));
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with("entity_id,entity_kind,segment,n_in_30d,"));
    let bad = run("yesterday");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--as-of \"yesterday\""));
}

#[test]
fn threshold_comes_from_the_jurisdiction_in_its_own_currency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("f.parquet").display().to_string();
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = Vec::new();
        let rates = sample("rates.csv");
        let input = sample("transactions.csv");
        args.extend([
            "features",
            input.as_str(),
            "--rates",
            rates.as_str(),
            "--out",
            out_path.as_str(),
        ]);
        args.extend(extra);
        redflag(&args)
    };
    let out = run(&["--jurisdiction", "CA"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the CA threshold is in CAD but amounts are in USD"),
        "{err}"
    );
    assert!(
        run(&["--jurisdiction", "CA", "--cash-threshold", "7500"])
            .status
            .success()
    );
    let out = run(&["--jurisdiction", "XX"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no reporting threshold for jurisdiction XX")
    );

    // A reference directory replaces the files it has; an expired row is a warning.
    let refs = dir.path().join("refs");
    std::fs::create_dir(&refs).expect("mkdir");
    std::fs::write(
        refs.join("adsites.csv"),
        "# version: 9\n# reviewer: test\npattern,kind,country,category,status,source,added_on,review_by\nold-ads,name,,adult,closed,test,2020-01-01,2021-01-01\n",
    )
    .expect("write");
    let out = run(&["--reference-dir", &refs.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: adsites.csv line 4: `old-ads` is past its review date")
    );
}

/// `redflag rules list | head -1`: the reader goes away early; redflag stops quietly instead
/// of panicking about a broken pipe.
#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_redflag"))
        .args(["rules", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?} {err}", out.status);
}
