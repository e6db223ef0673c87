//! Integration tests of the `redflag` command line and the library crates, one module per
//! topic (as in ripgrep's `tests/tests.rs`).

mod util;

mod check_cli;
#[cfg(feature = "distributed")]
mod cluster_cli;
mod features_cli;
mod goaml_cli;
mod ingest_formats;
mod ingest_matrix;
mod inject_cli;
mod model_cli;
mod privacy_cli;
mod rule_cases;
mod rules_cli;
mod run_cli;
mod synth_cli;
mod tune_cli;
