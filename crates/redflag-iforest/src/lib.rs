//! Isolation forest on linfa's traits: deterministic, parallel, explainable.
//!
//! linfa has no isolation forest; this is one that follows its conventions:
//! [`IsolationForestParams`] (setters named like the fields) is checked into
//! [`IsolationForestValidParams`], whose [`linfa::traits::Fit`] on a
//! `DatasetBase<Array2<f64>, _>` gives an [`IsolationForest`], which implements
//! [`linfa::traits::Predict`] with the anomaly score of Liu, Ting and Zhou (2008).
//!
//! ```
//! use linfa::DatasetBase;
//! use linfa::traits::{Fit, Predict};
//! use ndarray::{Array1, array};
//! use redflag_iforest::IsolationForestParams;
//!
//! let x = array![[1.0, 2.0], [1.1, 2.1], [0.9, 1.9], [1.0, 2.2], [1.2, 1.8], [9.0, -7.0]];
//! let data = DatasetBase::from(x.clone()).with_feature_names(vec!["amount_z", "night_share"]);
//! let forest = IsolationForestParams::new().n_trees(100).seed(7).fit(&data)?;
//! let scores: Array1<f64> = forest.predict(&x);
//! assert!(scores[5] > scores.iter().take(5).cloned().fold(0.0, f64::max));
//! // Which features made the outlier easy to isolate.
//! let why = forest.attributions(x.view())?;
//! assert!(why[[5, 0]] > 0.0 && why[[5, 1]] > 0.0);
//! // Saved and loaded, it scores the same.
//! let again = redflag_iforest::IsolationForest::from_json(&forest.to_json())?;
//! assert_eq!(again.score(x.view())?, forest.score(x.view())?);
//! # Ok::<(), redflag_iforest::Error>(())
//! ```
//!
//! # Behaviour
//!
//! - **Sampling.** Each tree draws ψ = `sample_size` rows without replacement (all rows when
//!   there are fewer) and grows to `max_depth` (default ceil(log2 ψ)); a leaf left with m > 1
//!   rows adds c(m) to its depth.
//! - **Splits.** Axis-parallel: a random feature among those that vary in the node and a
//!   threshold uniform in its range; rows below go left. Extended ([`SplitKind::Extended`]):
//!   a random Gaussian normal over the tree's features through a random point of the node's
//!   bounding box.
//! - **Features.** Features constant in the training data are never split on (and listed in
//!   the model). `max_features` < 1 gives each tree a random subset.
//! - **Missing values.** The forest takes no missing values: NaN or an infinity is refused
//!   with the feature's name ([`Error::NonFinite`]). Impute before: the model keeps each
//!   feature's training median ([`IsolationForest::medians`]), which `redflag model score`
//!   uses for empty cells.
//! - **Determinism.** Tree t's generator is ChaCha8 seeded with SplitMix64(seed, t); each
//!   row's score sums the trees in one order. Same data and seed give bit-identical scores
//!   whatever the number of threads.
//! - **Attribution.** [`IsolationForest::attributions`]: for each feature, the mean path
//!   length with that feature set to its training median minus the row's own; positive values
//!   are the features that isolated the row.
//! - **Percentiles.** The model keeps the training score distribution (estimated on up to
//!   100,000 evenly spaced training rows), so a score can be reported as a percentile.
//! - **Model files.** [`IsolationForest::to_json`] / [`IsolationForest::from_json`]: format
//!   version, feature names, parameters and seed, a BLAKE3 hash of the training data, training
//!   score quantiles, medians, and the trees as flat node arrays.
//! - **Scoring layout.** Trees are laid out as perfect binary trees and walked 64 rows at a
//!   time, 16 in lockstep. On a CPU with AVX-512 the top three levels are instead compared
//!   node by node over all 64 rows in vector instructions; this is the crate's one `unsafe`
//!   call (a function compiled for AVX-512, called only after the CPU reports it). Both ways
//!   give bit-identical scores, and the tests check both.

mod error;
mod exact;
mod forest;
mod params;
mod tree;

pub use error::{Error, Result};
pub use forest::{IsolationForest, MODEL_FORMAT_VERSION};
pub use params::{IsolationForestParams, IsolationForestValidParams, SplitKind};
pub use tree::average_path_length;

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::DatasetBase;
    use linfa::ParamGuard;
    use linfa::traits::Fit;
    use ndarray::{Array1, Array2, s};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// n inliers from a unit Gaussian-ish cloud in `f` dims, plus outliers at distance 8.
    fn blob(n: usize, f: usize, outliers: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n + outliers, f));
        for i in 0..n + outliers {
            for j in 0..f {
                let v: f64 = (0..4).map(|_| rng.gen_range(-1.0..1.0)).sum::<f64>() / 2.0;
                x[(i, j)] = if i >= n { v * 0.1 + 8.0 } else { v };
            }
        }
        x
    }

    fn fit(x: &Array2<f64>, p: IsolationForestParams) -> IsolationForest {
        p.fit(&DatasetBase::from(x.clone())).expect("fit")
    }

    #[test]
    fn clear_outliers_score_above_every_inlier() {
        let x = blob(2000, 4, 5, 1);
        for split in [SplitKind::AxisParallel, SplitKind::Extended] {
            let forest = fit(&x, IsolationForestParams::new().seed(3).split(split));
            let s = forest.score(x.view()).expect("score");
            let max_inlier = s.slice(s![..2000]).fold(0.0f64, |a, &b| a.max(b));
            let min_outlier = s.slice(s![2000..]).fold(1.0f64, |a, &b| a.min(b));
            assert!(
                min_outlier > max_inlier,
                "{split:?}: {min_outlier} <= {max_inlier}"
            );
            assert!(min_outlier > 0.6, "{split:?}: {min_outlier}");
            assert!(forest.percentile(min_outlier) > 99.0);
            assert!(forest.percentile(s[0]) < 100.0);
        }
    }

    #[test]
    fn path_lengths_follow_c_of_n() {
        // Depth 0: every row is one leaf of ψ rows, h = c(ψ), s = 2^-1 exactly.
        let x = blob(300, 3, 0, 2);
        let forest = fit(
            &x,
            IsolationForestParams::new()
                .sample_size(64)
                .max_depth(Some(0)),
        );
        let half = |s: f64| (s - 0.5).abs() < 1e-12;
        assert!(
            forest
                .score(x.view())
                .expect("score")
                .iter()
                .all(|&s| half(s))
        );
        // Two distinct points: one split isolates both, h = 1 = c(2), s = 2^-1.
        let two = ndarray::array![[0.0], [1.0]];
        let forest = fit(&two, IsolationForestParams::new().n_trees(20));
        assert!(
            forest
                .score(two.view())
                .expect("score")
                .iter()
                .all(|&s| half(s))
        );
        // Fully grown trees on n distinct points: the mean depth of the points is c(n)-like
        // (the average unsuccessful-search path in a random binary search tree).
        for n in [8usize, 32, 128] {
            let x = Array2::from_shape_fn((n, 1), |(i, _)| i as f64);
            let forest = fit(
                &x,
                IsolationForestParams::new()
                    .n_trees(2000)
                    .sample_size(n)
                    .max_depth(Some(64)),
            );
            let c = average_path_length(n);
            let s = forest.score(x.view()).expect("score");
            let mean_h: f64 = s.iter().map(|s| -s.log2() * c).sum::<f64>() / n as f64;
            let rel = (mean_h - c).abs() / c;
            assert!(rel < 0.15, "n={n}: mean h {mean_h:.3} vs c(n) {c:.3}");
        }
    }

    #[test]
    fn same_scores_with_one_and_two_threads() {
        let x = blob(5000, 6, 20, 4);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| {
                    let f = fit(&x, IsolationForestParams::new().seed(11).sample_size(128));
                    (f.score(x.view()).expect("score"), f.to_json())
                })
        };
        let (s1, m1) = run(1);
        let (s2, m2) = run(2);
        assert_eq!(s1, s2);
        assert_eq!(m1, m2, "the model files are identical too");
        let (s3, _) = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("pool")
            .install(|| {
                let f = fit(&x, IsolationForestParams::new().seed(12).sample_size(128));
                (f.score(x.view()).expect("score"), ())
            });
        assert_ne!(s1, s3, "another seed gives another forest");
    }

    #[test]
    fn model_file_round_trip_scores_identically() {
        let x = blob(1000, 3, 3, 5);
        for split in [SplitKind::AxisParallel, SplitKind::Extended] {
            let f = fit(&x, IsolationForestParams::new().seed(1).split(split));
            let g = IsolationForest::from_json(&f.to_json()).expect("load");
            assert!(f == g, "the model survives JSON exactly");
            assert_eq!(f.score(x.view()).expect("a"), g.score(x.view()).expect("b"));
        }
        // A newer file, and a version-1 file (its training hash was SHA-256): both refused,
        // naming the version and what to do.
        let json = fit(&x, IsolationForestParams::new()).to_json();
        for other in [99, 1] {
            let changed = json.replacen(
                "\"format_version\":2",
                &format!("\"format_version\":{other}"),
                1,
            );
            let e = IsolationForest::from_json(&changed).expect_err("version");
            let msg = e.to_string();
            assert!(msg.contains(&format!("format version {other} ")), "{msg}");
            assert!(msg.contains("redflag model fit"), "{msg}");
        }
    }

    #[test]
    fn refuses_non_finite_input_naming_the_feature() {
        let mut x = blob(100, 3, 0, 6);
        x[(42, 1)] = f64::NAN;
        let data = DatasetBase::from(x.clone()).with_feature_names(vec!["a", "night_share", "c"]);
        let e = IsolationForestParams::new().fit(&data).expect_err("nan");
        let msg = e.to_string();
        assert!(
            msg.contains("`night_share`") && msg.contains("row 42"),
            "{msg}"
        );
        let clean = blob(100, 3, 0, 6);
        let f = fit(&clean, IsolationForestParams::new());
        x[(42, 1)] = f64::INFINITY;
        assert!(matches!(
            f.score(x.view()),
            Err(Error::NonFinite { row: 42, .. })
        ));
    }

    #[test]
    fn predict_gives_nan_only_for_rows_with_non_finite_values() {
        use linfa::traits::Predict;
        let clean = blob(300, 3, 0, 8);
        let f = fit(&clean, IsolationForestParams::new());
        let want = f.score(clean.view()).expect("finite");
        assert_eq!(f.predict(&clean), want);
        let mut x = clean.clone();
        x[(7, 2)] = f64::NEG_INFINITY;
        x[(250, 0)] = f64::NAN;
        let got: Array1<f64> = f.predict(&x);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if i == 7 || i == 250 {
                assert!(g.is_nan(), "row {i}: {g}");
            } else {
                assert_eq!(g, w, "row {i}");
            }
        }
    }

    #[test]
    fn constant_features_are_skipped_and_feature_mismatch_is_named() {
        let mut x = blob(500, 3, 2, 7);
        x.column_mut(1).fill(5.0);
        let data = DatasetBase::from(x.clone()).with_feature_names(vec!["a", "flat", "c"]);
        let f = IsolationForestParams::new().fit(&data).expect("fit");
        assert_eq!(f.constant_features(), ["flat"]);
        let attr = f.attributions(x.view()).expect("attr");
        assert!(attr.column(1).iter().all(|&v| v == 0.0));
        let e = f
            .check_features(&["a".into(), "c".into(), "d".into()])
            .expect_err("mismatch");
        assert!(
            e.to_string().contains("missing from the input: [flat]"),
            "{e}"
        );
        assert!(e.to_string().contains("not in the model: [d]"), "{e}");
        assert!(
            f.check_features(&["a".into(), "flat".into(), "c".into()])
                .is_ok()
        );
    }

    #[test]
    fn attribution_points_at_the_feature_that_isolates() {
        let mut x = blob(3000, 4, 0, 8);
        x[(7, 2)] = 9.0; // only feature 2 is unusual in row 7
        let f = fit(&x, IsolationForestParams::new().seed(2));
        let a = f.attributions(x.view()).expect("attr");
        let row = a.row(7);
        let top = (0..4)
            .max_by(|&i, &j| row[i].total_cmp(&row[j]))
            .expect("max");
        assert_eq!(top, 2, "{row}");
        assert!(
            row[2]
                > 3.0
                    * row
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != 2)
                        .map(|(_, v)| v.abs())
                        .fold(0.0, f64::max)
        );
    }

    #[test]
    fn params_are_checked() {
        assert!(IsolationForestParams::new().n_trees(0).check().is_err());
        assert!(IsolationForestParams::new().sample_size(1).check().is_err());
        assert!(
            IsolationForestParams::new()
                .max_features(0.0)
                .check()
                .is_err()
        );
        let p = IsolationForestParams::new().check().expect("defaults");
        assert_eq!((p.n_trees(), p.sample_size()), (200, 256));
    }
}
