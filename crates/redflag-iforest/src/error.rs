//! Errors of `redflag-iforest`.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong fitting, scoring or loading a forest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyperparameter is out of range.
    #[error("invalid isolation forest parameters: {0}")]
    Params(String),
    /// The data hold NaN or an infinity (missing values must be imputed before; see the crate
    /// documentation).
    #[error(
        "feature `{feature}` has a non-finite value ({value}) in row {row}; impute missing values before fitting or scoring"
    )]
    NonFinite {
        /// The feature's name.
        feature: String,
        /// 0-based row.
        row: usize,
        /// The value.
        value: f64,
    },
    /// No rows to fit on.
    #[error("cannot fit an isolation forest on no rows")]
    Empty,
    /// The data's features are not the model's.
    #[error("the input's features do not match the model's: {0}")]
    FeatureMismatch(String),
    /// A model file cannot be read.
    #[error("model file: {0}")]
    ModelFile(String),
    /// An error from linfa.
    #[error(transparent)]
    Linfa(#[from] linfa::error::Error),
}
