//! Hyperparameters: set, then check ([`ParamGuard`]), then fit.

use linfa::ParamGuard;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How nodes split the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    /// One feature and a threshold (Liu, Ting and Zhou 2008).
    #[default]
    AxisParallel,
    /// A random hyperplane through all of the tree's features (Hariri, Carrasco Kind and
    /// Brunner 2019, full extension level): no axis-aligned artefacts in the score.
    Extended,
}

/// Checked hyperparameters of an isolation forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestValidParams {
    pub(crate) n_trees: usize,
    pub(crate) sample_size: usize,
    pub(crate) max_depth: Option<usize>,
    #[serde(with = "crate::exact::one")]
    pub(crate) max_features: f64,
    pub(crate) split: SplitKind,
    pub(crate) seed: u64,
}

impl IsolationForestValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
    /// Rows drawn (without replacement) for each tree (ψ).
    pub fn sample_size(&self) -> usize {
        self.sample_size
    }
    /// Depth limit, or `None` for ceil(log2 ψ).
    pub fn max_depth(&self) -> Option<usize> {
        self.max_depth
    }
    /// Fraction of the (non-constant) features each tree may split on.
    pub fn max_features(&self) -> f64 {
        self.max_features
    }
    /// How nodes split.
    pub fn split(&self) -> SplitKind {
        self.split
    }
    /// The seed every tree's seed derives from.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// Hyperparameters of an isolation forest, unchecked. Setters are bare field names:
///
/// ```
/// use redflag_iforest::IsolationForestParams;
/// let params = IsolationForestParams::new().n_trees(100).sample_size(256).seed(7);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestParams(IsolationForestValidParams);

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self::new()
    }
}

impl IsolationForestParams {
    /// 200 trees, ψ = 256, depth limit ceil(log2 ψ), all features, axis-parallel splits,
    /// seed 0.
    pub fn new() -> Self {
        Self(IsolationForestValidParams {
            n_trees: 200,
            sample_size: 256,
            max_depth: None,
            max_features: 1.0,
            split: SplitKind::AxisParallel,
            seed: 0,
        })
    }

    /// Number of trees (≥ 1).
    pub fn n_trees(mut self, n: usize) -> Self {
        self.0.n_trees = n;
        self
    }

    /// Rows per tree (≥ 2); when the data have fewer rows, all are used.
    pub fn sample_size(mut self, n: usize) -> Self {
        self.0.sample_size = n;
        self
    }

    /// Depth limit; `None` gives ceil(log2 ψ).
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.0.max_depth = d;
        self
    }

    /// Fraction in (0, 1] of the non-constant features that each tree draws (at least one).
    pub fn max_features(mut self, f: f64) -> Self {
        self.0.max_features = f;
        self
    }

    /// Axis-parallel or extended (random hyperplane) splits.
    pub fn split(mut self, s: SplitKind) -> Self {
        self.0.split = s;
        self
    }

    /// The seed; the same seed and data give the same forest whatever the thread count.
    pub fn seed(mut self, s: u64) -> Self {
        self.0.seed = s;
        self
    }
}

impl ParamGuard for IsolationForestParams {
    type Checked = IsolationForestValidParams;
    type Error = Error;

    fn check_ref(&self) -> Result<&Self::Checked, Self::Error> {
        let p = &self.0;
        if p.n_trees == 0 {
            return Err(Error::Params("n_trees must be at least 1".into()));
        }
        if p.sample_size < 2 {
            return Err(Error::Params("sample_size must be at least 2".into()));
        }
        if !(p.max_features > 0.0 && p.max_features <= 1.0) {
            return Err(Error::Params(format!(
                "max_features must be in (0, 1], got {}",
                p.max_features
            )));
        }
        if p.max_depth.is_some_and(|d| d > 64) {
            return Err(Error::Params("max_depth must be at most 64".into()));
        }
        Ok(p)
    }

    fn check(self) -> Result<Self::Checked, Self::Error> {
        self.check_ref()?;
        Ok(self.0)
    }
}
