//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use redflag_io::{
    CollectRejects, IngestOptions, Ingested, MappingProfile, RateTable, Reject, ingest,
};

/// The repository root: read when the test runs (cargo sets it), not baked in when it is
/// compiled, so a test binary reused from another checkout's build reads this checkout.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .expect("tests run under cargo")
}

/// A file under `sample-data/`.
pub fn sample(name: &str) -> String {
    root().join("sample-data").join(name).display().to_string()
}

/// The pseudonymisation key every test run uses (a fixed test value, never a real key).
pub const TEST_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// redflag's directory for the tests (`REDFLAG_HOME`): a temporary directory holding
/// [`TEST_KEY`], so that no test reads or writes the real `~/.config/redflag`.
pub fn test_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("key"), format!("{TEST_KEY}\n")).expect("key");
        dir
    })
    .path()
}

/// The pseudonym that runs under [`TEST_KEY`] give `id`.
pub fn pseudonym(id: &str) -> String {
    redflag::privacy::Key::from_hex(TEST_KEY)
        .expect("key")
        .pseudonym(id)
}

/// Runs the `redflag` binary with [`test_home`] as its directory.
pub fn redflag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redflag"))
        .args(args)
        .env("REDFLAG_HOME", test_home())
        .env_remove("REDFLAG_KEY_FILE")
        .output()
        .expect("run redflag")
}

/// The command's stdout; fails the test, showing stderr, unless it succeeded.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows of a CSV file without quoted fields, each as column -> value.
pub fn csv_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| (*h).to_owned())
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
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

/// Each rejected record's line, column and reason, in order.
pub fn reasons(rejects: &[redflag_io::Reject]) -> Vec<(u64, &str, redflag_io::RejectReason)> {
    rejects
        .iter()
        .map(|r| (r.line, r.column.as_str(), r.reason))
        .collect()
}
