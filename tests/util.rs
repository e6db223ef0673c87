//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use redflag_io::{
    CollectRejects, IngestOptions, Ingested, MappingProfile, RateTable, Reject, ingest,
};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `sample-data/`.
pub fn sample(name: &str) -> String {
    root().join("sample-data").join(name).display().to_string()
}

/// Runs the `redflag` binary.
pub fn redflag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redflag"))
        .args(args)
        .output()
        .expect("run redflag")
}

/// Ingests with the canonical profile (or `profile`), USD base, no rates.
pub fn ingest_with(
    paths: &[&Path],
    profile: MappingProfile,
    rates: Option<RateTable>,
) -> redflag_io::Result<(Ingested, Vec<Reject>)> {
    let rates = rates.unwrap_or_else(|| RateTable::base_only("USD").expect("usd"));
    let opts = IngestOptions::new(profile, rates);
    let mut rejects = CollectRejects::default();
    let inputs: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let got = ingest(&inputs, &opts, &mut rejects)?;
    assert!(got.report.balances(), "read = accepted + rejected");
    assert_eq!(rejects.0.len() as u64, got.report.rejected);
    assert_eq!(got.num_rows() as u64, got.report.accepted);
    Ok((got, rejects.0))
}
