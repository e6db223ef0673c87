//! redflag: find human-trafficking-linked money laundering in payment and crypto transaction
//! records, and explain every alert so that a human analyst can decide.
//!
//! The [`Engine`] runs the whole job: read and validate the inputs (`redflag-io`), compute
//! entity features and the graph pass (`redflag-features`), evaluate the cited rule pack
//! (`redflag-rules`), fit an isolation forest on the batch or load one (`redflag-iforest`),
//! combine both into a ranked, explained alert queue grouped into cases, and write the outputs.
//!
//! ```
//! use redflag::Engine;
//!
//! // Doc tests run in crates/redflag; the sample data is at the repository root.
//! let set = Engine::new(["../../sample-data/transactions.csv"])
//!     .rates_file("../../sample-data/rates.csv")
//!     .seed(7)
//!     .run()
//!     .expect("run");
//! assert_eq!(set.manifest.ingest.rows_read, 3045);
//! assert_eq!(set.scores.len(), set.manifest.entities);
//! for alert in set.alerts.iter().take(3) {
//!     assert!(alert.anomaly_only || !alert.reasons.is_empty());
//!     println!("{} {} {:.3} {}", alert.rank, alert.entity_id, alert.risk, alert.role_hint);
//! }
//! let out = std::env::temp_dir().join(format!("redflag-doc-{}", std::process::id()));
//! set.write(&out).expect("write outputs");
//! assert!(out.join("alerts.jsonl").exists() && out.join("manifest.json").exists());
//! # std::fs::remove_dir_all(&out).ok();
//! ```

mod alert;
#[cfg(feature = "distributed")]
pub mod cluster;
mod engine;
pub mod eval;
pub mod fairness;
pub mod goaml;
pub mod inject;
mod output;
pub mod privacy;
pub mod report;
mod spill;
pub mod tune;

pub use alert::{ALERT_FORMAT_VERSION, Alert, Reason, ReasonValue, TopFeature, Versions};
pub use engine::{
    AlertSet, Engine, EntityScore, FLOW_ALERTS, Flow, Manifest, ManifestInput, ProgressHook, Stage,
    StageTimings, feature_config, risk, rule_score,
};

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or validating inputs failed.
    #[error(transparent)]
    Io(#[from] redflag_io::Error),
    /// The feature pass failed.
    #[error(transparent)]
    Features(#[from] redflag_features::Error),
    /// The rule pack or a reference list is invalid.
    #[error("{0}")]
    Config(String),
    /// Evaluating the rules failed.
    #[error(transparent)]
    Rules(#[from] redflag_rules::Error),
    /// The isolation forest failed.
    #[error(transparent)]
    Model(#[from] redflag_iforest::Error),
    /// Writing an output failed.
    #[error("{0}")]
    Output(String),
    /// A scores or labels file is unusable (the message names the file and line).
    #[error("{0}")]
    Input(String),
}

/// Result of a run.
pub type Result<T, E = Error> = std::result::Result<T, E>;
