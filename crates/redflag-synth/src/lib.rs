//! Seeded synthetic populations with planted, labelled trafficking typologies.
//!
//! No public dataset carries trafficking-linked financial behaviour with labels, so redflag
//! makes its own: a bank's customers living ordinary lives in local time, benign look-alikes of
//! every red flag, and planted cases following `docs/INDICATORS.md`, each a small network of
//! controllers, victims and sometimes a front business. Labels go to separate files; the
//! transactions are in the canonical schema (`docs/SCHEMA.md`) with every optional column the
//! generator can fill.
//!
//! - [`SynthParams`]: customers, days, seed, start date, number of cases, output format;
//! - [`SynthParams::write`]: generates into a directory and returns a [`Summary`];
//! - [`Typology`], [`Role`], [`Persona`]: what the label files say.
//!
//! ```
//! use redflag_synth::{Format, SynthParams};
//!
//! let dir = tempfile::tempdir()?;
//! let summary = SynthParams::new(300, 90).seed(7).format(Format::Csv).write(dir.path())?;
//! assert!(summary.rows > 10_000);
//! assert_eq!(summary.cases.values().sum::<u32>(), 16);
//! assert!(dir.path().join("transactions.csv").exists());
//! assert!(dir.path().join("account_labels.csv").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Output files
//!
//! - `transactions.csv` or `transactions.parquet`: canonical rows, grouped by customer (or
//!   case) and in time order within each;
//! - `rates.csv`: monthly rates to USD for EUR, GBP, MXN and the crypto assets;
//! - `account_labels.csv` (`account,is_suspicious,typology,role,case_id`): every account,
//!   customer-held wallet and front merchant; `role` is `controller`, `victim`,
//!   `front_business`, `benign_lookalike` or `normal`; look-alikes carry the typology they
//!   resemble (`lookalike_...`) with `is_suspicious = 0`;
//! - `customer_labels.csv`: the same per customer;
//! - `transaction_labels.csv` (`txn_id,is_laundering,typology,case_id`): the rows of planted
//!   cases (`1`) and the distinctive rows of look-alikes (`0`); every other row is ordinary;
//! - `reference/vasp_attribution.csv`: the synthetic service wallets (ad service, escort
//!   service, mixer, exchange), for `redflag run --reference-dir DIR/reference`;
//! - `summary.json`: what was made.
//!
//! # Determinism
//!
//! Every customer and every case is a unit with its own RNG, seeded from the population seed
//! and the unit number; whatever one unit needs to know about another (an employer's account,
//! a landlord, a shared device) is a pure function of the seed. Units are generated in chunks
//! in parallel and written in chunk order, so the same parameters give byte-identical files
//! whatever the thread count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

mod cases;
pub mod persona;
pub mod plan;
pub mod render;
pub mod txn;
pub mod world;
mod write;

pub use plan::{Persona, Plan, Role, Typology, mix};
pub use write::{arrow_schema, unit_rows};

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range.
    #[error("{0}")]
    Params(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("{0}: {1}")]
    Parquet(PathBuf, String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Result of the generator.
pub type Result<T> = std::result::Result<T, Error>;

/// Output format of the transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `transactions.csv`, RFC 3339 timestamps.
    #[default]
    Csv,
    /// `transactions.parquet`, typed columns, Snappy.
    Parquet,
}

/// Parameters of a population.
#[derive(Debug, Clone)]
pub struct SynthParams {
    customers: u32,
    days: u32,
    seed: u64,
    start: NaiveDate,
    cases: Option<u32>,
    format: Format,
    typologies: Vec<Typology>,
}

impl SynthParams {
    /// `customers` customers (case members included) over `days` days, seed 42, starting
    /// 2024-01-01, one case per 250 customers (at least one of each typology), CSV.
    pub fn new(customers: u32, days: u32) -> SynthParams {
        SynthParams {
            customers,
            days,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
            cases: None,
            format: Format::Csv,
            typologies: Vec::new(),
        }
    }

    /// Seed of every random draw.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// First day.
    pub fn start(mut self, start: NaiveDate) -> Self {
        self.start = start;
        self
    }

    /// Number of planted cases (they cycle through the typologies).
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = Some(cases);
        self
    }

    /// Plant only these typologies (the cases cycle through them); empty: all.
    pub fn typologies(mut self, typologies: Vec<Typology>) -> Self {
        self.typologies = typologies;
        self
    }

    /// Output format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Checks the parameters and plans the population.
    pub fn plan(&self) -> Result<Plan> {
        if self.days < 60 || self.days > 3_660 {
            return Err(Error::Params(format!(
                "--days {} is out of range: 60 to 3660 (features compare the last 30 days with up to 180 before)",
                self.days
            )));
        }
        let cases = self
            .cases
            .unwrap_or((self.customers / 250).max(Typology::ALL.len() as u32));
        let min = cases.saturating_mul(12).max(100);
        if self.customers < min {
            return Err(Error::Params(format!(
                "--customers {} is too few for {cases} cases: at least {min}",
                self.customers
            )));
        }
        Ok(Plan::with_typologies(
            self.customers,
            self.days,
            self.seed,
            self.start,
            cases,
            &self.typologies,
        ))
    }

    /// Generates the population into `dir` (created if needed). Every file is written under a
    /// temporary name and renamed when complete.
    pub fn write(&self, dir: &Path) -> Result<Summary> {
        let plan = self.plan()?;
        write::write_population(&plan, dir, self.format)
    }
}

/// What a generation made.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Seed used.
    pub seed: u64,
    /// First day.
    pub start: String,
    /// Days covered.
    pub days: u32,
    /// Transaction rows.
    pub rows: u64,
    /// Customers, case members included.
    pub customers: u32,
    /// Labelled entities (accounts, customer wallets, front merchants).
    pub accounts: u64,
    /// Planted cases per typology.
    pub cases: BTreeMap<String, u32>,
    /// Look-alike customers per kind.
    pub lookalikes: BTreeMap<String, u32>,
    /// Labelled entities of planted cases.
    pub suspicious_accounts: u64,
    /// Labelled entities of look-alikes.
    pub lookalike_accounts: u64,
    /// Rows of planted cases.
    pub laundering_rows: u64,
    /// Distinctive rows of look-alikes.
    pub lookalike_rows: u64,
    /// Wall-clock seconds (printed, not written to `summary.json`, which stays identical
    /// from run to run).
    #[serde(skip)]
    pub seconds: f64,
}

impl Summary {
    fn new(plan: &Plan) -> Summary {
        let mut cases = BTreeMap::new();
        for c in &plan.cases {
            *cases.entry(c.typology.name().to_owned()).or_insert(0) += 1;
        }
        let mut lookalikes = BTreeMap::new();
        for cust in 0..plan.ordinary {
            if let Some(t) = plan.persona(cust).lookalike() {
                *lookalikes.entry(t.to_owned()).or_insert(0) += 1;
            }
        }
        Summary {
            seed: plan.seed,
            start: plan.start.to_string(),
            days: plan.days,
            rows: 0,
            customers: plan.customers(),
            accounts: 0,
            cases,
            lookalikes,
            suspicious_accounts: 0,
            lookalike_accounts: 0,
            laundering_rows: 0,
            lookalike_rows: 0,
            seconds: 0.0,
        }
    }

    /// Rows per second of wall-clock time.
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "rows          {}", self.rows)?;
        writeln!(f, "customers     {}", self.customers)?;
        writeln!(
            f,
            "accounts      {} (labelled entities: accounts, wallets, front merchants)",
            self.accounts
        )?;
        writeln!(f, "period        {} + {} days", self.start, self.days)?;
        writeln!(
            f,
            "suspicious    {} entities ({:.2}%), {} rows ({:.2}%)",
            self.suspicious_accounts,
            100.0 * self.suspicious_accounts as f64 / self.accounts.max(1) as f64,
            self.laundering_rows,
            100.0 * self.laundering_rows as f64 / self.rows.max(1) as f64
        )?;
        writeln!(
            f,
            "look-alikes   {} entities ({:.2}%), {} rows",
            self.lookalike_accounts,
            100.0 * self.lookalike_accounts as f64 / self.accounts.max(1) as f64,
            self.lookalike_rows
        )?;
        writeln!(f, "cases per typology:")?;
        for (t, n) in &self.cases {
            writeln!(f, "  {t:<20} {n}")?;
        }
        writeln!(f, "look-alikes per kind:")?;
        for (t, n) in &self.lookalikes {
            writeln!(f, "  {t:<30} {n}")?;
        }
        write!(
            f,
            "generated in {:.2} s ({:.2} M rows/s)",
            self.seconds,
            self.rate() / 1e6
        )
    }
}
