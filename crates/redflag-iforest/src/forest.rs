//! The fitted forest: scoring, attribution, percentiles, model files.

use linfa::dataset::{DatasetBase, Records};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::{IsolationForestValidParams, SplitKind};
use crate::tree::{
    BLOCK, Builder, Column, FlatTree, Group, Kernel, LANES, Tree, average_path_length,
    fill_columns, fill_groups,
};

/// Version of the model file format written by [`IsolationForest::to_json`]. Version 2: the
/// training hash is BLAKE3 (version 1's was SHA-256, so its files are refused rather than
/// reported with a hash that no longer means what the field says; refit them).
pub const MODEL_FORMAT_VERSION: u32 = 2;

/// Rows used to estimate feature medians and the training score distribution.
const REFERENCE_ROWS: usize = 100_000;

/// Number of quantiles of the training scores kept for percentiles (0.1 % steps).
const QUANTILES: usize = 1001;

/// A fitted isolation forest. It is what a model file stores.
///
/// The anomaly score of a row x is s(x) = 2^(−E[h(x)] / c(ψ)) (Liu, Ting and Zhou 2008):
/// h(x) is the path length in a tree (depth of the leaf reached, plus c(leaf size) for the
/// points the depth limit left together), E its mean over the trees, c(ψ) the average path
/// length for the sample size ψ. Scores near 1 are anomalies; around 0.5 and below are not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    format_version: u32,
    feature_names: Vec<String>,
    params: IsolationForestValidParams,
    /// Rows per tree actually used (ψ, at most the number of training rows).
    psi: usize,
    training_rows: usize,
    /// BLAKE3 of the training matrix (see [`IsolationForest::training_hash`]).
    training_hash: String,
    /// Features constant in the training data: never split on.
    constant_features: Vec<String>,
    /// Median of each feature in the training data (used to neutralise a feature for
    /// attribution, and to impute missing values).
    #[serde(with = "crate::exact::many")]
    medians: Vec<f64>,
    /// Training score quantiles at 0, 0.1 %, ..., 100 %.
    #[serde(with = "crate::exact::many")]
    score_quantiles: Vec<f64>,
    trees: Vec<Tree>,
}

/// Seed of tree `t`: SplitMix64 of the forest seed and the tree index, so that each tree's
/// randomness is fixed whatever thread builds it.
fn tree_seed(seed: u64, t: usize) -> u64 {
    let mut z = seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Evenly spaced row indices, at most `max` of them.
fn spaced_rows(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    (0..max).map(|i| i * n / max).collect()
}

fn feature_name(names: &[String], j: usize) -> String {
    names
        .get(j)
        .cloned()
        .unwrap_or_else(|| format!("feature {j}"))
}

/// Rejects NaN and infinities, naming the feature.
pub(crate) fn check_finite(x: &ArrayView2<'_, f64>, names: &[String]) -> Result<()> {
    let bad = x
        .axis_iter(Axis(0))
        .into_par_iter()
        .enumerate()
        .find_first(|(_, row)| row.iter().any(|v| !v.is_finite()));
    if let Some((row, values)) = bad {
        let j = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(Error::NonFinite {
            feature: feature_name(names, j),
            row,
            value: values[j],
        });
    }
    Ok(())
}

/// What one pass over a training matrix finds.
struct Scan {
    /// Min and max of every column.
    ranges: Vec<(f64, f64)>,
    /// Whether every value is finite.
    finite: bool,
    /// See [`IsolationForest::training_hash`].
    hash: String,
}

/// Ranges, finiteness and the training hash in one parallel pass over the rows, a 1 MiB
/// piece at a time, so that each piece is hashed and ranged while it is in cache.
///
/// The hash is BLAKE3 over the shape and the BLAKE3 of each piece's row-major
/// little-endian bytes. BLAKE3 rather than SHA-256: with SHA-256 (even in the CPU's SHA
/// instructions) this pass took 0.6 s of a 0.7 s fit on 10M rows × 16 on 2 cores; with BLAKE3
/// it takes 0.25 s.
fn scan(x: &ArrayView2<'_, f64>) -> Scan {
    let f = x.ncols();
    let rows_per_piece = ((1 << 17) / f.max(1)).max(1);
    struct Piece {
        digest: [u8; 32],
        ranges: Vec<(f64, f64)>,
        finite: bool,
    }
    let pieces: Vec<Piece> = x
        .axis_chunks_iter(Axis(0), rows_per_piece)
        .into_par_iter()
        .map_init(Vec::new, |buf: &mut Vec<f64>, piece| {
            // The piece as one row-major slice (a copy only for a view of another layout).
            let values = match piece.as_slice() {
                Some(v) => v,
                None => {
                    buf.clear();
                    buf.extend(piece.iter());
                    &buf[..]
                }
            };
            let mut ranges = vec![(f64::INFINITY, f64::NEG_INFINITY); f];
            for row in values.chunks_exact(f.max(1)) {
                // Plain comparisons, without `f64::min`'s NaN handling (NaN never wins one,
                // and it fails `finite`).
                for (m, &v) in ranges.iter_mut().zip(row) {
                    if v < m.0 {
                        m.0 = v;
                    }
                    if v > m.1 {
                        m.1 = v;
                    }
                }
            }
            let finite = values.iter().fold(true, |all, v| all & v.is_finite());
            // 16 KiB at a time, enough for BLAKE3 to hash 16 of its chunks side by side.
            let mut h = blake3::Hasher::new();
            let mut bytes = [0u8; 8 * 2048];
            for chunk in values.chunks(2048) {
                for (b, v) in bytes.chunks_exact_mut(8).zip(chunk) {
                    b.copy_from_slice(&v.to_le_bytes());
                }
                h.update(&bytes[..8 * chunk.len()]);
            }
            Piece {
                digest: *h.finalize().as_bytes(),
                ranges,
                finite,
            }
        })
        .collect();
    let mut ranges = vec![(f64::INFINITY, f64::NEG_INFINITY); f];
    let mut finite = true;
    let mut h = blake3::Hasher::new();
    h.update(&(x.nrows() as u64).to_le_bytes());
    h.update(&(x.ncols() as u64).to_le_bytes());
    for piece in &pieces {
        h.update(&piece.digest);
        for (m, p) in ranges.iter_mut().zip(&piece.ranges) {
            m.0 = m.0.min(p.0);
            m.1 = m.1.max(p.1);
        }
        finite &= piece.finite;
    }
    Scan {
        ranges,
        finite,
        hash: h.finalize().to_hex().to_string(),
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, Error> for IsolationForestValidParams {
    type Object = IsolationForest;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<IsolationForest> {
        let x = dataset.records().view();
        let names: Vec<String> = {
            let given = dataset.feature_names();
            if given.len() == x.ncols() {
                given.to_vec()
            } else {
                (0..x.ncols()).map(|j| format!("f{j}")).collect()
            }
        };
        fit_view(self, x, names)
    }
}

fn fit_view(
    params: &IsolationForestValidParams,
    x: ArrayView2<'_, f64>,
    names: Vec<String>,
) -> Result<IsolationForest> {
    let (n, f) = x.dim();
    if n == 0 {
        return Err(Error::Empty);
    }
    let Scan {
        ranges,
        finite,
        hash,
    } = scan(&x);
    if !finite {
        check_finite(&x, &names)?;
    }
    // Medians from evenly spaced reference rows (also scored below for the quantiles).
    let reference = spaced_rows(n, REFERENCE_ROWS);
    let reference_x = x.select(Axis(0), &reference);
    let stats: Vec<(f64, f64, f64)> = (0..f)
        .into_par_iter()
        .map(|j| {
            let mut sample: Vec<f64> = reference_x.column(j).to_vec();
            let mid = sample.len() / 2;
            let (_, median, _) = sample.select_nth_unstable_by(mid, f64::total_cmp);
            (ranges[j].0, ranges[j].1, *median)
        })
        .collect();
    let active: Vec<u32> = (0..f)
        .filter(|&j| stats[j].0 < stats[j].1)
        .map(|j| j as u32)
        .collect();
    let constant_features = (0..f)
        .filter(|&j| stats[j].0 >= stats[j].1)
        .map(|j| feature_name(&names, j))
        .collect();
    let psi = params.sample_size.min(n);
    let max_depth = params
        .max_depth
        .unwrap_or_else(|| (psi.max(2) as f64).log2().ceil() as usize);
    let per_tree = ((params.max_features * active.len() as f64).ceil() as usize)
        .clamp(active.len().min(1), active.len().max(1));
    let trees: Vec<Tree> = (0..params.n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(tree_seed(params.seed, t));
            let rows = sample(&mut rng, n, psi).into_vec();
            let features: Vec<u32> = if per_tree >= active.len() {
                active.clone()
            } else {
                let mut picked: Vec<u32> = sample(&mut rng, active.len(), per_tree)
                    .into_iter()
                    .map(|i| active[i])
                    .collect();
                picked.sort_unstable();
                picked
            };
            let cols: Vec<Vec<f64>> = features
                .iter()
                .map(|&j| rows.iter().map(|&r| x[(r, j as usize)]).collect())
                .collect();
            Builder {
                cols: &cols,
                features: &features,
                max_depth,
                split: params.split,
            }
            .build(&mut rng)
        })
        .collect();
    let mut forest = IsolationForest {
        format_version: MODEL_FORMAT_VERSION,
        feature_names: names,
        params: params.clone(),
        psi,
        training_rows: n,
        training_hash: hash,
        constant_features,
        medians: stats.iter().map(|s| s.2).collect(),
        score_quantiles: Vec::new(),
        trees,
    };
    let (mut scores, _) = forest.score_view(reference_x.view(), Kernel::detect());
    scores.sort_by(f64::total_cmp);
    forest.score_quantiles = (0..QUANTILES)
        .map(|q| {
            let pos = q as f64 / (QUANTILES - 1) as f64 * (scores.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            scores[lo] + (scores[hi] - scores[lo]) * (pos - lo as f64)
        })
        .collect();
    Ok(forest)
}

/// Rows scored per parallel task.
const ROWS_PER_TASK: usize = 4096;

/// Reused buffers of a scoring task: rows as lane groups (and as columns for
/// [`Kernel::Block`]), and their sums.
struct Scratch {
    kernel: Kernel,
    groups: Vec<Group>,
    cols: Vec<Column>,
    group_sums: Vec<[f64; LANES]>,
}

impl Scratch {
    fn new(kernel: Kernel) -> Self {
        Scratch {
            kernel,
            groups: Vec::new(),
            cols: Vec::new(),
            group_sums: Vec::new(),
        }
    }
}

impl IsolationForest {
    /// Fits on a matrix with named features (the names are checked again when scoring).
    pub fn fit_named(
        params: &IsolationForestValidParams,
        x: ArrayView2<'_, f64>,
        feature_names: Vec<String>,
    ) -> Result<Self> {
        if feature_names.len() != x.ncols() {
            return Err(Error::FeatureMismatch(format!(
                "{} names for {} columns",
                feature_names.len(),
                x.ncols()
            )));
        }
        fit_view(params, x, feature_names)
    }

    /// The feature names, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The hyperparameters the forest was fitted with.
    pub fn params(&self) -> &IsolationForestValidParams {
        &self.params
    }

    /// Rows each tree was built on (ψ).
    pub fn sample_size(&self) -> usize {
        self.psi
    }

    /// Number of training rows.
    pub fn training_rows(&self) -> usize {
        self.training_rows
    }

    /// BLAKE3 identifying the training matrix, in hex: over the shape and the BLAKE3 hashes of
    /// 1 MiB pieces of its row-major little-endian bytes.
    pub fn training_hash(&self) -> &str {
        &self.training_hash
    }

    /// Features that were constant in training (never used).
    pub fn constant_features(&self) -> &[String] {
        &self.constant_features
    }

    /// Training medians, one per feature: the value a missing cell should be imputed with.
    pub fn medians(&self) -> &[f64] {
        &self.medians
    }

    fn score_from_path(&self, mean_path: f64) -> f64 {
        let c = average_path_length(self.psi);
        if c == 0.0 {
            return 0.5;
        }
        2f64.powf(-mean_path / c)
    }

    /// Adds each row's path lengths, summed over the trees, to `sums`: `block` holds the rows
    /// row-major, `f` values each (at most [`BLOCK`] rows, so that they stay in L1). Trees
    /// are taken in a fixed order for every row, so sums do not depend on threads.
    fn add_path_lengths(
        &self,
        flat: &[Option<FlatTree>],
        block: &[f64],
        f: usize,
        scratch: &mut Scratch,
        sums: &mut [f64],
    ) {
        let Scratch {
            kernel,
            groups,
            cols,
            group_sums,
        } = scratch;
        let rows = sums.len();
        // Extended forests (and trees past the flat limits) walk the row-major block only.
        if flat.iter().any(Option::is_some) {
            fill_groups(block, f, rows, groups);
            if *kernel == Kernel::Block {
                fill_columns(block, f, rows, cols);
            }
        }
        let n = rows.div_ceil(LANES);
        group_sums.clear();
        group_sums.resize(n, [0.0; LANES]);
        for (tree, flat) in self.trees.iter().zip(flat) {
            match flat {
                Some(ft) => ft.add_path_lengths(*kernel, &groups[..n], cols, group_sums),
                None => {
                    for r in 0..rows {
                        let row = &block[r * f..(r + 1) * f];
                        group_sums[r / LANES][r % LANES] += tree.path_length(row);
                    }
                }
            }
        }
        for (s, g) in sums.iter_mut().zip(group_sums.iter().flatten()) {
            *s += g;
        }
    }

    /// Scores of every row, and whether every value read was finite (checked while the rows
    /// are copied, so that [`IsolationForest::score`] needs no pass of its own).
    fn score_view(&self, x: ArrayView2<'_, f64>, kernel: Kernel) -> (Vec<f64>, bool) {
        let f = x.ncols();
        let flat: Vec<Option<FlatTree>> = self.trees.iter().map(FlatTree::from_tree).collect();
        let mut out = vec![0.0; x.nrows()];
        let scratch = || Scratch::new(kernel);
        let finite = out
            .par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .map_init(scratch, |scratch, (task, chunk)| {
                let start = task * ROWS_PER_TASK;
                let mut sums = vec![0.0; chunk.len()];
                let mut block = vec![0.0; BLOCK * f];
                let mut finite = true;
                for (b, sums) in sums.chunks_mut(BLOCK).enumerate() {
                    let first = start + b * BLOCK;
                    let rows = sums.len();
                    // A row-major copy of the block, so each tree walks rows in L1.
                    for r in 0..rows {
                        for (d, v) in block[r * f..(r + 1) * f].iter_mut().zip(x.row(first + r)) {
                            *d = *v;
                            finite &= v.is_finite();
                        }
                    }
                    self.add_path_lengths(&flat, &block[..rows * f], f, scratch, sums);
                }
                let n = self.trees.len() as f64;
                for (o, s) in chunk.iter_mut().zip(sums) {
                    *o = self.score_from_path(s / n);
                }
                finite
            })
            .reduce(|| true, |a, b| a && b);
        (out, finite)
    }

    fn check_width(&self, x: &ArrayView2<'_, f64>) -> Result<()> {
        if x.ncols() != self.feature_names.len() {
            return Err(Error::FeatureMismatch(format!(
                "the model has {} features, the input {}",
                self.feature_names.len(),
                x.ncols()
            )));
        }
        Ok(())
    }

    fn check_input(&self, x: &ArrayView2<'_, f64>) -> Result<()> {
        self.check_width(x)?;
        check_finite(x, &self.feature_names)
    }

    /// Anomaly scores in (0, 1], one per row. NaN or infinite input is refused.
    pub fn score(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.check_width(&x)?;
        let (scores, finite) = self.score_view(x, Kernel::detect());
        if !finite {
            // Name the feature and row.
            check_finite(&x, &self.feature_names)?;
        }
        Ok(Array1::from(scores))
    }

    /// The percentile (0–100) of a score among the training scores.
    pub fn percentile(&self, score: f64) -> f64 {
        let q = &self.score_quantiles;
        if q.is_empty() {
            return 0.0;
        }
        let below = q.partition_point(|&v| v <= score);
        if below == 0 {
            return 0.0;
        }
        if below >= q.len() {
            return 100.0;
        }
        // Interpolate between the quantiles that bracket the score.
        let (a, b) = (q[below - 1], q[below]);
        let frac = if b > a { (score - a) / (b - a) } else { 0.0 };
        ((below - 1) as f64 + frac) / (q.len() - 1) as f64 * 100.0
    }

    /// Per-row, per-feature attribution: how much each feature shortened the row's mean
    /// isolation path, E[h(x with the feature set to its training median)] − E[h(x)]. Positive
    /// values are features that made the row easier to isolate; features no tree uses get 0.
    pub fn attributions(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.check_input(&x)?;
        let f = x.ncols();
        let mut used = vec![false; f];
        for t in &self.trees {
            t.used_features(&mut used);
        }
        let flat: Vec<Option<FlatTree>> = self.trees.iter().map(FlatTree::from_tree).collect();
        let n_trees = self.trees.len() as f64;
        let kernel = Kernel::detect();
        let mut out = Array2::<f64>::zeros((x.nrows(), f));
        if f == 0 {
            return Ok(out);
        }
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each_init(
                || (Vec::new(), Vec::new(), Scratch::new(kernel)),
                |(block, changed, scratch): &mut (Vec<f64>, Vec<usize>, Scratch), (i, mut o)| {
                    // The row, then one copy per feature that can move it, set to the median;
                    // all walk the trees together in the lockstep blocks scoring uses.
                    let row = x.row(i);
                    changed.clear();
                    changed.extend((0..f).filter(|&j| used[j] && row[j] != self.medians[j]));
                    block.clear();
                    block.extend(row.iter());
                    for &j in changed.iter() {
                        let at = block.len();
                        block.extend(row.iter());
                        block[at + j] = self.medians[j];
                    }
                    let mut sums = vec![0.0; 1 + changed.len()];
                    for (rows, sums) in block.chunks(BLOCK * f).zip(sums.chunks_mut(BLOCK)) {
                        self.add_path_lengths(&flat, rows, f, scratch, sums);
                    }
                    let base = sums[0] / n_trees;
                    for (&j, s) in changed.iter().zip(&sums[1..]) {
                        o[j] = s / n_trees - base;
                    }
                },
            );
        Ok(out)
    }

    /// Scores and attributions together.
    pub fn score_explained(&self, x: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>)> {
        Ok((self.score(x)?, self.attributions(x)?))
    }

    /// Refuses an input whose feature names differ from the model's, naming the difference.
    pub fn check_features(&self, names: &[String]) -> Result<()> {
        if names == self.feature_names.as_slice() {
            return Ok(());
        }
        let missing: Vec<&str> = self
            .feature_names
            .iter()
            .filter(|n| !names.contains(n))
            .map(String::as_str)
            .collect();
        let extra: Vec<&str> = names
            .iter()
            .filter(|n| !self.feature_names.contains(n))
            .map(String::as_str)
            .collect();
        let msg = if missing.is_empty() && extra.is_empty() {
            format!(
                "same features in another order; the model expects {}",
                self.feature_names.join(",")
            )
        } else {
            format!(
                "missing from the input: [{}]; not in the model: [{}]",
                missing.join(", "),
                extra.join(", ")
            )
        };
        Err(Error::FeatureMismatch(msg))
    }

    /// The model as JSON (format version [`MODEL_FORMAT_VERSION`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a model from JSON, refusing other format versions.
    pub fn from_json(text: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let v: Version = serde_json::from_str(text)
            .map_err(|e| Error::ModelFile(format!("not a redflag model file ({e})")))?;
        if v.format_version != MODEL_FORMAT_VERSION {
            return Err(Error::ModelFile(format!(
                "format version {} is not supported (this build reads version {MODEL_FORMAT_VERSION}); \
                 fit the model again with this build (`redflag model fit`)",
                v.format_version
            )));
        }
        serde_json::from_str(text).map_err(|e| Error::ModelFile(e.to_string()))
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// How nodes split.
    pub fn split(&self) -> SplitKind {
        self.params.split
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for IsolationForest {
    /// Anomaly scores. Rows holding NaN or infinities score NaN (use
    /// [`IsolationForest::score`] to have them refused with the feature's name).
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        assert_eq!(x.nrows(), y.len(), "one target per row");
        let (scores, finite) = self.score_view(x.view(), Kernel::detect());
        for ((o, s), row) in y.iter_mut().zip(scores).zip(x.axis_iter(Axis(0))) {
            *o = if finite || row.iter().all(|v| v.is_finite()) {
                s
            } else {
                f64::NAN
            };
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nsamples())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::ParamGuard;
    use ndarray::ShapeBuilder;
    use rand::Rng;

    #[test]
    fn training_hash_follows_its_definition_whatever_the_memory_layout() {
        // 40,000 rows × 7: 18,724 rows per 1 MiB piece, so two full pieces and a partial one.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x: Array2<f64> = Array2::from_shape_fn((40_000, 7), |_| rng.gen_range(-5.0..5.0));
        let want = {
            let mut h = blake3::Hasher::new();
            h.update(&40_000u64.to_le_bytes());
            h.update(&7u64.to_le_bytes());
            for piece in x.as_slice().expect("row-major").chunks((1 << 17) / 7 * 7) {
                let bytes: Vec<u8> = piece.iter().flat_map(|v| v.to_le_bytes()).collect();
                h.update(blake3::hash(&bytes).as_bytes());
            }
            h.finalize().to_hex().to_string()
        };
        assert_eq!(scan(&x.view()).hash, want);
        // The same matrix stored column-major hashes the same.
        let mut fortran = Array2::zeros((40_000, 7).f());
        fortran.assign(&x);
        assert!(fortran.as_slice().is_none());
        let scanned = scan(&fortran.view());
        assert_eq!(scanned.hash, want);
        assert!(scanned.finite);
        // One value changed changes it.
        let mut y = x.clone();
        y[(39_999, 6)] += 1e-9;
        assert_ne!(scan(&y.view()).hash, want);
        y[(39_999, 6)] = f64::NAN;
        assert!(!scan(&y.view()).finite);
    }

    #[test]
    fn a_table_without_features_scores_every_row_alike() {
        let x = Array2::<f64>::zeros((50, 0));
        let params = crate::IsolationForestParams::new()
            .n_trees(3)
            .check()
            .expect("params");
        let forest = IsolationForest::fit_named(&params, x.view(), Vec::new()).expect("fit");
        let s = forest.score(x.view()).expect("score");
        assert_eq!(s.len(), 50);
        assert!(s.iter().all(|&v| v == s[0] && v > 0.0), "{s}");
    }

    #[test]
    fn scores_match_their_definition_on_narrow_and_wide_tables() {
        // 300 features, 6 per tree: trees splitting past the 256th walk the general path, the
        // others the flat one; both must add up exactly like the tree-by-tree definition.
        for (f, share) in [(5, 1.0), (300, 0.02)] {
            let mut rng = ChaCha8Rng::seed_from_u64(f as u64);
            let x = Array2::from_shape_fn((700, f), |(i, _)| {
                let v = rng.gen_range(-1.0..1.0);
                if i % 70 == 0 { v * 8.0 } else { v }
            });
            let params = crate::IsolationForestParams::new()
                .n_trees(40)
                .max_features(share)
                .seed(9)
                .check()
                .expect("params");
            let names = (0..f).map(|j| format!("f{j}")).collect();
            let forest = IsolationForest::fit_named(&params, x.view(), names).expect("fit");
            let flat = forest.trees.iter().filter_map(FlatTree::from_tree).count();
            if f == 5 {
                assert_eq!(flat, 40, "every tree is flat");
            } else {
                assert!(
                    0 < flat && flat < 40,
                    "some trees split past feature 256: {flat}"
                );
            }
            for kernel in [Kernel::Lanes, Kernel::Block] {
                let (got, finite) = forest.score_view(x.view(), kernel);
                assert!(finite);
                for (i, row) in x.rows().into_iter().enumerate() {
                    let row = row.to_vec();
                    let sum: f64 = forest.trees.iter().map(|t| t.path_length(&row)).sum();
                    let want = forest.score_from_path(sum / forest.trees.len() as f64);
                    assert_eq!(got[i], want, "{f} features, {kernel:?}, row {i}");
                }
            }
        }
    }

    #[test]
    fn attributions_match_their_definition_tree_by_tree() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // 5 features, the last constant; a few far rows; 21 rows scored (lanes + remainder).
        let x = Array2::from_shape_fn((400, 5), |(i, j)| match j {
            4 => 1.0,
            _ if i % 50 == 0 => rng.gen_range(5.0..9.0),
            _ => rng.gen_range(-1.0..1.0),
        });
        for split in [SplitKind::AxisParallel, SplitKind::Extended] {
            let params = crate::IsolationForestParams::new()
                .n_trees(30)
                .max_features(0.75)
                .split(split)
                .seed(4)
                .check()
                .expect("params");
            let names = (0..5).map(|j| format!("f{j}")).collect();
            let forest = IsolationForest::fit_named(&params, x.view(), names).expect("fit");
            let rows = x.slice(ndarray::s![..21, ..]);
            let got = forest.attributions(rows).expect("attributions");
            let mut used = vec![false; 5];
            for t in &forest.trees {
                t.used_features(&mut used);
            }
            let mean = |row: &[f64]| {
                let sum: f64 = forest.trees.iter().map(|t| t.path_length(row)).sum();
                sum / forest.trees.len() as f64
            };
            for (i, row) in rows.rows().into_iter().enumerate() {
                let row = row.to_vec();
                for j in 0..5 {
                    let want = if !used[j] || row[j] == forest.medians[j] {
                        0.0
                    } else {
                        let mut moved = row.clone();
                        moved[j] = forest.medians[j];
                        mean(&moved) - mean(&row)
                    };
                    assert_eq!(got[(i, j)], want, "{split:?} row {i} feature {j}");
                }
            }
        }
    }
}
