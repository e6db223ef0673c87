//! Errors of `redflag-io`.
//!
//! User-input errors (a file that cannot be used, a bad mapping profile, a bad rates file) lead
//! with the file they concern. A bad *row* is not an error: it becomes a [`crate::Reject`].

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop an ingest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// An input names no file: a path that does not exist or a glob that matches nothing.
    #[error("{input}: {message}")]
    NoInput {
        /// The input as given.
        input: String,
        /// Why it matched nothing.
        message: String,
    },
    /// A file is not of the format its name says, or is damaged as a whole.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and what was expected.
        message: String,
    },
    /// A required canonical column is not supplied by the file, the profile or a constant.
    #[error(
        "{}: missing required column `{column}` (looked for a header named {looked_for:?} using mapping profile `{profile}`; the header has: {found})",
        path.display()
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The canonical column.
        column: &'static str,
        /// The source header the profile maps to it.
        looked_for: String,
        /// The profile in use.
        profile: String,
        /// The headers the file does have, comma-separated.
        found: String,
    },
    /// A mapping profile is invalid.
    #[error("mapping profile {profile}: {message}")]
    Mapping {
        /// Name or path of the profile.
        profile: String,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// A rates file is invalid.
    #[error("{}:{line}: {message}", path.display())]
    Rates {
        /// The rates file.
        path: PathBuf,
        /// 1-based line (header = line 1).
        line: u64,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// An option is out of range or inconsistent.
    #[error("invalid option: {0}")]
    Option(String),
    /// An Arrow computation failed (an internal error, not bad input).
    #[error("internal arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A DataFusion call failed.
    #[error("datafusion: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// True when the error is about the user's input (a file, a profile, a rates file, an
    /// option) rather than an internal failure.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Arrow(_) | Error::DataFusion(_))
    }
}
