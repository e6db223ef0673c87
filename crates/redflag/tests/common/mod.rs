//! What the engine's integration tests share: the sample population's run.

use std::path::{Path, PathBuf};

use redflag::Engine;

/// `sample-data/population`: 66,256 transactions over four months, with customers, cash,
/// payroll and planted networks.
pub fn population() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/population")
}

/// The sample population's run (seed 11, reference lists as of 2024-06-01), written to `out`.
pub fn engine(out: &Path) -> Engine {
    let root = population();
    Engine::new([root.join("transactions.csv.gz").display().to_string()])
        .rates_file(root.join("rates.csv"))
        .reference_dir(root.join("reference"))
        .today("2024-06-01")
        .seed(11)
        .out_dir(out)
}
