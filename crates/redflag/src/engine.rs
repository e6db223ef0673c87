//! The run: ingest, features, rules, isolation forest, scoring, ranking, cases.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, UInt32Type};
use ndarray::Array2;
use rayon::prelude::*;
use redflag_features::BatchSource;
use redflag_features::{CATALOG, DAY, FeatureConfig, Ledger};
use redflag_iforest::{IsolationForest, IsolationForestParams};
use redflag_io::{
    DiscardRejects, IngestOptions, IngestReport, Ingested, MappingProfile, RateTable,
    RejectCsvWriter, ingest, ingest_streaming,
};
use redflag_rules::{Reference, RuleEngine, RulePack, Severity};
use redflag_schema::columns as col;
use redflag_schema::{CASH_PARTY, Text};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::alert::{ALERT_FORMAT_VERSION, Alert, Reason, ReasonValue, TopFeature, Versions};
use crate::spill::{Spill, SpillFile};
use crate::{Error, Result};

/// Weight of a fired rule's severity in the rule score.
fn severity_factor(s: Severity) -> f64 {
    match s {
        Severity::Low => 0.5,
        Severity::Medium => 0.75,
        Severity::High => 1.0,
    }
}

/// The rule score: a noisy-OR of the fired rules, 1 − Π (1 − weightᵢ · fᵢ), where fᵢ is 0.5,
/// 0.75 or 1 for a low, medium or high severity (after escalation).
pub fn rule_score(fired: impl IntoIterator<Item = (f64, Severity)>) -> f64 {
    1.0 - fired
        .into_iter()
        .map(|(w, s)| 1.0 - w * severity_factor(s))
        .product::<f64>()
}

/// Combined risk in [0, 1]: 1 − (1 − rule_score) · (1 − 0.4 · a), where a rises linearly from 0
/// at the 90th anomaly percentile to 1 at the 100th. Only the top decile of anomalies adds to
/// the rules, by at most 0.4.
pub fn risk(rule_score: f64, anomaly_percentile: f64) -> f64 {
    let a = ((anomaly_percentile - 90.0) / 10.0).clamp(0.0, 1.0);
    1.0 - (1.0 - rule_score) * (1.0 - 0.4 * a)
}

/// The feature settings that the reference lists (`dir`, else the built-in ones, as of `today`)
/// give for a jurisdiction and base currency, with an optional cash threshold instead of the
/// jurisdiction's; and the lists themselves (versions, hashes, expiry warnings).
pub fn feature_config(
    dir: Option<&Path>,
    today: &str,
    jurisdiction: &str,
    base_currency: &str,
    cash_threshold: Option<f64>,
) -> Result<(FeatureConfig, Reference)> {
    let reference = match dir {
        Some(d) => Reference::from_dir(d, today),
        None => Reference::builtin(today),
    }
    .map_err(|e| Error::Config(format!("reference lists: {}", e.join("\n  "))))?;
    let mut cfg = FeatureConfig::default();
    reference
        .apply(&mut cfg, jurisdiction, base_currency, cash_threshold)
        .map_err(Error::Config)?;
    Ok((cfg, reference))
}

/// Anomaly percentile from which the forest alone makes an alert (labelled `anomaly_only`).
const ANOMALY_ONLY_PERCENTILE: f64 = 99.5;
/// Evidence transactions per alert.
const EVIDENCE: usize = 20;

/// A stage of a run, as reported to a progress hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and validating the inputs.
    Ingest,
    /// Entity features and the graph pass.
    Features,
    /// The rule pack.
    Rules,
    /// Fitting (or loading) and scoring the isolation forest.
    Model,
    /// Scores, ranking, cases, evidence and explanations.
    Alerts,
    /// Writing the outputs.
    Write,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 6] = [
        Stage::Ingest,
        Stage::Features,
        Stage::Rules,
        Stage::Model,
        Stage::Alerts,
        Stage::Write,
    ];

    /// What the stage does, for a progress line.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Ingest => "reading and validating inputs",
            Stage::Features => "entity features and graph pass",
            Stage::Rules => "evaluating the rule pack",
            Stage::Model => "isolation forest",
            Stage::Alerts => "ranking, cases, evidence",
            Stage::Write => "writing outputs",
        }
    }

    /// 1-based position among [`Stage::ALL`].
    pub fn number(self) -> usize {
        Stage::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }
}

/// Called when a stage starts (a progress bar, a log line).
#[derive(Clone)]
pub struct ProgressHook(std::sync::Arc<dyn Fn(Stage) + Send + Sync>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// Builds and runs one job. Every setting has a default; only the inputs are required.
#[derive(Debug, Clone)]
pub struct Engine {
    progress: Option<ProgressHook>,
    inputs: Vec<String>,
    mapping: String,
    rates: Option<PathBuf>,
    base_currency: String,
    pack: Option<PathBuf>,
    reference_dir: Option<PathBuf>,
    jurisdiction: String,
    cash_threshold: Option<f64>,
    model: Option<PathBuf>,
    as_of: Option<i64>,
    budget: Option<usize>,
    max_per_case: Option<usize>,
    seed: u64,
    pub(crate) out_dir: Option<PathBuf>,
    today: Option<String>,
    pub(crate) key: Option<crate::privacy::Key>,
    cluster: Option<String>,
    cluster_staging: Option<PathBuf>,
    memory_limit: Option<u64>,
    spill_dir: Option<PathBuf>,
}

/// One scored entity (`scores.csv`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityScore {
    /// Entity id.
    pub entity_id: String,
    /// Entity kind.
    pub entity_kind: String,
    /// Combined risk.
    pub risk: f64,
    /// Rule score.
    pub rule_score: f64,
    /// Anomaly score.
    pub anomaly_score: f64,
    /// 1 = highest risk.
    pub rank: usize,
}

/// Wall-clock seconds per stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StageTimings {
    /// Read and validate.
    pub ingest: f64,
    /// Entity features and graph pass.
    pub features: f64,
    /// Rule pack.
    pub rules: f64,
    /// Isolation forest fit (or load) and score.
    pub model: f64,
    /// Scoring, ranking, cases, evidence.
    pub alerts: f64,
    /// After the alerts: the input files' hashes (when not yet computed beside the run),
    /// pseudonyms, and writing the outputs, all but `manifest.json`, which records this.
    pub output: f64,
}

/// The audit record of a run (`manifest.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// redflag's version.
    pub tool_version: String,
    /// Alert record format.
    pub alert_format: u32,
    /// Inputs: path, size, SHA-256 and counts.
    pub inputs: Vec<ManifestInput>,
    /// Records read, accepted and rejected, and rejects per reason.
    pub ingest: IngestReport,
    /// Settings.
    pub config: BTreeMap<String, String>,
    /// Rule pack name, version and SHA-256.
    pub rule_pack: BTreeMap<String, String>,
    /// Reference lists: file -> version and SHA-256.
    pub reference: BTreeMap<String, String>,
    /// The isolation forest: how it was obtained, its training-data hash.
    pub model: BTreeMap<String, String>,
    /// Seed of the isolation forest.
    pub seed: u64,
    /// End of every window (RFC 3339).
    pub as_of: String,
    /// Entities scored.
    pub entities: usize,
    /// Alerts in the queue.
    pub alerts: usize,
    /// Stage timings (seconds).
    pub timings: StageTimings,
    /// Alert rates per segment (entity kind, channel mix, region, institution), disparity
    /// ratios, and warnings for disparities that fired indicators do not explain (see
    /// [`crate::fairness`]).
    pub fairness: crate::fairness::Fairness,
    /// How identifiers appear in the outputs: `mode` is `pseudonymous` (with the key's
    /// `key_fingerprint` and the `scheme`) or `raw`.
    pub ids: BTreeMap<String, String>,
}

/// One input file in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestInput {
    /// Path as given.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file.
    pub sha256: String,
}

/// Money moved from one party to another over the 30 days before `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flow {
    /// Paying party.
    pub from: String,
    /// Receiving party.
    pub to: String,
    /// Total, base currency.
    pub amount: f64,
    /// Transactions.
    pub count: u32,
}

/// Alerts (the first of the queue) whose parties' money flows are kept for the report's case
/// graphs.
pub const FLOW_ALERTS: usize = 50;

/// The result of a run.
#[derive(Debug, Clone)]
pub struct AlertSet {
    /// The alert queue, ranked.
    pub alerts: Vec<Alert>,
    /// Every entity scored, ranked.
    pub scores: Vec<EntityScore>,
    /// The audit record.
    pub manifest: Manifest,
    /// Money flows (card purchases left out) touching the parties of the first
    /// [`FLOW_ALERTS`] alerts, sorted by payer then payee; `report.html` draws each top case
    /// from them.
    pub flows: Vec<Flow>,
    /// When the run is pseudonymous: the pseudonyms used, with the raw ids they stand for
    /// (written encrypted as `reveal.map`).
    pub pseudonyms: Option<crate::privacy::Pseudonyms>,
}

impl Engine {
    /// A job over these inputs (files, directories or globs).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(inputs: I) -> Engine {
        Engine {
            inputs: inputs.into_iter().map(Into::into).collect(),
            mapping: "canonical".into(),
            rates: None,
            base_currency: "USD".into(),
            pack: None,
            reference_dir: None,
            jurisdiction: "US".into(),
            cash_threshold: None,
            model: None,
            as_of: None,
            budget: None,
            max_per_case: None,
            progress: None,
            seed: 0,
            out_dir: None,
            today: None,
            key: None,
            cluster: None,
            cluster_staging: None,
            memory_limit: None,
            spill_dir: None,
        }
    }

    /// Pseudonymous outputs: every entity id and money-flow party becomes its keyed pseudonym
    /// (see [`crate::privacy`]), alert ids are derived from pseudonyms, `reveal.map` is written
    /// next to the outputs, and `rejected.csv` keeps file, line, column and reason but not the
    /// record's text. The command line does this by default; a library caller chooses.
    pub fn pseudonymize(mut self, key: crate::privacy::Key) -> Engine {
        self.key = Some(key);
        self
    }

    /// Mapping profile: a built-in name or a TOML file (default `canonical`).
    pub fn mapping(mut self, name_or_path: impl Into<String>) -> Engine {
        self.mapping = name_or_path.into();
        self
    }
    /// FX rates file for `amount_base`.
    pub fn rates_file(mut self, path: impl Into<PathBuf>) -> Engine {
        self.rates = Some(path.into());
        self
    }
    /// Base currency (default USD).
    pub fn base_currency(mut self, code: impl Into<String>) -> Engine {
        self.base_currency = code.into();
        self
    }
    /// Rule pack file (default: the built-in trafficking pack).
    pub fn rule_pack(mut self, path: impl Into<PathBuf>) -> Engine {
        self.pack = Some(path.into());
        self
    }
    /// Reference-list directory (default: the built-in lists).
    pub fn reference_dir(mut self, path: impl Into<PathBuf>) -> Engine {
        self.reference_dir = Some(path.into());
        self
    }
    /// Jurisdiction of the cash-reporting threshold (default US).
    pub fn jurisdiction(mut self, code: impl Into<String>) -> Engine {
        self.jurisdiction = code.into();
        self
    }
    /// Cash-reporting threshold in the base currency, instead of the jurisdiction's.
    pub fn cash_threshold(mut self, amount: f64) -> Engine {
        self.cash_threshold = Some(amount);
        self
    }
    /// Isolation-forest model file (default: fit on this batch).
    pub fn model_file(mut self, path: impl Into<PathBuf>) -> Engine {
        self.model = Some(path.into());
        self
    }
    /// End of every window, UTC microseconds (default: the latest transaction).
    pub fn as_of(mut self, micros: i64) -> Engine {
        self.as_of = Some(micros);
        self
    }
    /// Keep only the top `k` alerts.
    pub fn budget(mut self, k: usize) -> Engine {
        self.budget = Some(k);
        self
    }
    /// Keep at most `n` alerts of each case (entities linked by transactions), so that one
    /// network does not flood the queue; the others stay in `scores.csv` with their rank.
    pub fn max_per_case(mut self, n: usize) -> Engine {
        self.max_per_case = Some(n.max(1));
        self
    }
    /// Calls `hook` as each stage starts (the CLI draws its progress line with it).
    pub fn on_stage(mut self, hook: impl Fn(Stage) + Send + Sync + 'static) -> Engine {
        self.progress = Some(ProgressHook(std::sync::Arc::new(hook)));
        self
    }

    fn stage(&self, stage: Stage) {
        if let Some(p) = &self.progress {
            (p.0)(stage);
        }
    }
    /// Seed of the isolation forest (default 0).
    pub fn seed(mut self, seed: u64) -> Engine {
        self.seed = seed;
        self
    }
    /// Stream rejected records to `DIR/rejected.csv` during the run (written atomically).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Engine {
        self.out_dir = Some(dir.into());
        self
    }
    /// The date (YYYY-MM-DD) against which reference rows expire (default: today, UTC).
    pub fn today(mut self, date: impl Into<String>) -> Engine {
        self.today = Some(date.into());
        self
    }

    /// Evaluates the rules and scores the isolation forest on a DataFusion Ballista cluster:
    /// `df://HOST:PORT` names its scheduler, `standalone` starts a scheduler and an executor in
    /// this process (loopback only). The feature table is staged as Parquet where the
    /// executors can read it (see [`Engine::cluster_staging`]); alerts and scores are
    /// byte-identical to a local run. The forest is scored there only when the executors know
    /// redflag's scoring function (`redflag cluster executor`), else locally; the manifest's
    /// `config.cluster_forest` says which. Needs the cargo feature `distributed`; without it the
    /// run stops with an error saying so.
    pub fn cluster(mut self, url: impl Into<String>) -> Engine {
        self.cluster = Some(url.into());
        self
    }
    /// Where a cluster run stages the feature table for the executors: a directory they see
    /// under the same path (a shared mount). Default: the output directory, else the system's
    /// temporary directory. Each run stages into its own `.redflag-staging-*` directory there
    /// and removes it once the rules and the forest have run.
    pub fn cluster_staging(mut self, dir: impl Into<PathBuf>) -> Engine {
        self.cluster_staging = Some(dir.into());
        self
    }

    /// Runs within about `bytes` of memory for the data that grows with the number of
    /// transactions: ingest spills each accepted batch to disk as soon as it is accepted (see
    /// [`Engine::spill_dir`]) instead of holding the table, and the feature pass runs over that
    /// file one range of entities at a time ([`redflag_features::compute_partitioned`]), with
    /// as many ranges as the limit needs. Outputs are byte-identical to a run without a limit.
    /// The cost is a disk write of the accepted table (about its Arrow size, 90 bytes a
    /// transaction for a plain payments file) and a read of it per pass. The ledger behind
    /// cases, evidence and money flows is read once the alert candidates are known, and holds
    /// only the 30-day transactions that touch one. The per-entity tables (about 1 KB an
    /// entity), the sender and receiver codes (8 bytes a transaction) and the model come on top
    /// of the limit; the manifest records the limit and the number of ranges as
    /// `config.memory_limit` and `config.partitions`.
    pub fn memory_limit(mut self, bytes: u64) -> Engine {
        self.memory_limit = Some(bytes);
        self
    }
    /// Where a run under [`Engine::memory_limit`] spills the accepted transactions. Default:
    /// the output directory, else the system's temporary directory. Each run spills into its
    /// own `.redflag-spill-*` directory there and removes it when the run ends.
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Engine {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Connects to the cluster this builder names, if any.
    #[cfg(feature = "distributed")]
    fn connect(&self) -> Result<Option<crate::cluster::Cluster>> {
        let Some(url) = &self.cluster else {
            return Ok(None);
        };
        let staging = match (&self.cluster_staging, &self.out_dir) {
            (Some(d), _) => d.clone(),
            (None, Some(out)) => out.clone(),
            (None, None) => std::env::temp_dir(),
        };
        crate::cluster::Cluster::connect(url, &staging).map(Some)
    }

    /// Without the `distributed` feature there is no cluster to connect to.
    #[cfg(not(feature = "distributed"))]
    fn connect(&self) -> Result<Option<std::convert::Infallible>> {
        match &self.cluster {
            None => Ok(None),
            Some(url) => Err(Error::Config(format!(
                "cluster {url}: this redflag was built without the `distributed` feature \
                 (build it with `cargo build --release --features distributed`)"
            ))),
        }
    }

    /// Runs the job.
    pub fn run(&self) -> Result<AlertSet> {
        self.run_inner(None)
    }

    /// Runs the job on transactions already read (canonical batches with `amount_base`, as
    /// [`redflag_io::ingest`] returns them, from any source): the inputs, mapping and rates of
    /// this builder are not used, and `rejected.csv` is not written. The manifest lists the
    /// files `ingested.report` names. Refused under [`Engine::memory_limit`], which bounds
    /// what the run reads itself: these batches are already in memory.
    pub fn run_on(&self, ingested: &redflag_io::Ingested) -> Result<AlertSet> {
        self.in_memory("Engine::run_on (batches already read)")?;
        self.run_inner(Some(ingested))
    }

    /// Refuses a memory limit for a job that holds the whole table in memory (`what`), rather
    /// than let it run past the limit it was given.
    pub(crate) fn in_memory(&self, what: &str) -> Result<()> {
        match self.memory_limit {
            None => Ok(()),
            Some(bytes) => Err(Error::Config(format!(
                "memory limit {bytes} bytes: {what} holds every transaction in memory and \
                 cannot keep a limit; only a run that reads its own inputs can"
            ))),
        }
    }

    /// Reads and validates the inputs (streaming rejected records to `rejected.csv` when there
    /// is an output directory).
    pub fn ingest(&self) -> Result<redflag_io::Ingested> {
        self.ingest_into(None)
    }

    /// [`Engine::ingest`], handing the accepted batches to `accept` when given.
    fn ingest_into(
        &self,
        mut accept: Option<redflag_io::AcceptSink<'_>>,
    ) -> Result<redflag_io::Ingested> {
        let profile = MappingProfile::resolve(&self.mapping)?;
        let rates = match &self.rates {
            Some(p) => RateTable::from_file(p, &self.base_currency)?,
            None => RateTable::base_only(&self.base_currency)?,
        };
        let opts = IngestOptions::new(profile, rates);
        let ingested = match &self.out_dir {
            Some(dir) => {
                crate::output::create_out_dir(dir)?;
                let mut sink = RejectCsvWriter::create(&dir.join("rejected.csv"))?
                    .withhold_records(self.key.is_some());
                let got = match accept.take() {
                    Some(a) => ingest_streaming(&self.inputs, &opts, &mut sink, a)?,
                    None => ingest(&self.inputs, &opts, &mut sink)?,
                };
                sink.finish()?;
                got
            }
            None => match accept.take() {
                Some(a) => ingest_streaming(&self.inputs, &opts, &mut DiscardRejects, a)?,
                None => ingest(&self.inputs, &opts, &mut DiscardRejects)?,
            },
        };
        if let Some(f) = ingested.report.failed_files().next() {
            return Err(Error::Config(
                f.error
                    .clone()
                    .unwrap_or_else(|| format!("{}: unusable", f.path.display())),
            ));
        }
        Ok(ingested)
    }

    /// The rule engine, the feature configuration and the reference lists this builder names.
    pub(crate) fn setup(&self) -> Result<(RuleEngine, FeatureConfig, Reference)> {
        let today = self
            .today
            .clone()
            .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
        let pack = match &self.pack {
            Some(p) => RulePack::from_file(p),
            None => Ok(RulePack::builtin()),
        };
        let engine = pack.and_then(RuleEngine::new).map_err(|errors| {
            Error::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let (mut cfg, reference) = feature_config(
            self.reference_dir.as_deref(),
            &today,
            &self.jurisdiction,
            &self.base_currency,
            self.cash_threshold,
        )?;
        cfg.as_of = self.as_of;
        Ok((engine, cfg, reference))
    }

    fn run_inner(&self, given: Option<&redflag_io::Ingested>) -> Result<AlertSet> {
        let mut timings = StageTimings::default();
        let (engine, mut cfg, reference) = self.setup()?;
        let model = match &self.model {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::Config(format!("{}: {e}", p.display())))?;
                Some(IsolationForest::from_json(&text)?)
            }
            None => None,
        };
        let cluster = self.connect()?;

        // Ingest.
        let clock = Instant::now();
        self.stage(Stage::Ingest);
        let ingested = match (given, self.memory_limit) {
            (Some(given), _) => Accepted::Given(given),
            (None, None) => Accepted::Owned(self.ingest()?),
            (None, Some(_)) => {
                let parent = match (&self.spill_dir, &self.out_dir) {
                    (Some(d), _) | (None, Some(d)) => d.clone(),
                    (None, None) => std::env::temp_dir(),
                };
                let mut spill = Spill::create(&parent)?;
                let got =
                    self.ingest_into(Some(&mut |schema, batch| spill.accept(schema, batch)))?;
                Accepted::Spilled(spill.finish()?, got.report)
            }
        };
        timings.ingest = clock.elapsed().as_secs_f64();
        let report = match &ingested {
            Accepted::Given(i) => &i.report,
            Accepted::Owned(i) => &i.report,
            Accepted::Spilled(_, r) => r,
        };
        if report.accepted == 0 {
            let see = match (&self.out_dir, given) {
                (Some(dir), None) => format!("; see {}", dir.join("rejected.csv").display()),
                _ => String::new(),
            };
            return Err(Error::Config(nothing_accepted(report, &see)));
        }

        // Features, rules. From here on the table is read only for the ids of the transactions
        // of the 30 days up to `as_of` (evidence): those are taken now, and a table this run
        // read itself lets its id column go, then gives up its other columns to the feature
        // pass, which lets each go once read.
        let clock = Instant::now();
        self.stage(Stage::Features);
        let (as_of, mut window_ids) = match &ingested {
            Accepted::Given(Ingested { batches, .. })
            | Accepted::Owned(Ingested { batches, .. }) => {
                let as_of = cfg.as_of.unwrap_or_else(|| latest(batches));
                let ids = ids_between(batches, as_of - 30 * DAY, as_of)?;
                if ids.iter().flatten().all(|a| a.is_empty()) {
                    return Err(empty_window(as_of, span(batches)));
                }
                (as_of, ids)
            }
            Accepted::Spilled(file, _) => {
                let as_of = match cfg.as_of {
                    Some(t) => {
                        // A given `as_of` may leave the window empty: look before the pass.
                        let (mut inside, mut first, mut last) = (false, i64::MAX, i64::MIN);
                        file.scan(&[col::TS], &mut |round| {
                            inside |= round.iter().any(|b| in_window(b, t));
                            let (f, l) = span(&round);
                            (first, last) = (first.min(f), last.max(l));
                            Ok(())
                        })?;
                        if !inside {
                            return Err(empty_window(t, (first, last)));
                        }
                        t
                    }
                    None => {
                        let mut as_of = 0;
                        file.scan(&[col::TS], &mut |round| {
                            as_of = as_of.max(latest(&round));
                            Ok(())
                        })?;
                        as_of
                    }
                };
                // The ids are read once the alert candidates are known, theirs only.
                (as_of, Vec::new())
            }
        };
        // The feature pass ends its windows where the evidence window ends.
        cfg.as_of = Some(as_of);
        let mut partitions = None;
        let mut ingested = ingested;
        // Under a memory limit the ledger of the window is read later, for the alert
        // candidates' transactions only (`deferred`); else it comes with the features.
        let mut deferred = None;
        let (mut features, report) = match &mut ingested {
            Accepted::Given(given) => (
                redflag_features::compute(&given.batches, &cfg)?,
                given.report.clone(),
            ),
            Accepted::Spilled(file, report) => {
                let limit = self.memory_limit.unwrap_or(u64::MAX);
                let p = partitions_for(file.rows(), limit);
                partitions = Some(p);
                let file: &SpillFile = file;
                let (features, window) = redflag_features::partitioned_features(file, p, &cfg)?;
                deferred = Some((window, file));
                (features, std::mem::take(report))
            }
            Accepted::Owned(owned) => {
                let mut batches = std::mem::take(&mut owned.batches);
                for b in &mut batches {
                    if let Ok(i) = b.schema_ref().index_of(col::TXN_ID) {
                        b.remove_column(i);
                    }
                }
                redflag_features::release_freed_memory();
                let (features, _) = redflag_features::compute_owned(batches, &[], &cfg)?;
                (features, std::mem::take(&mut owned.report))
            }
        };
        // Cases, evidence and money flows read the last 30 days only.
        let mut ledger = std::mem::take(&mut features.ledger);
        ledger.keep_between(as_of - 30 * DAY, as_of);
        timings.features = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        self.stage(Stage::Rules);
        let table = &features.batch;
        // On a cluster: the feature table is staged once for the rules and the forest.
        #[cfg(feature = "distributed")]
        let on_cluster = match &cluster {
            None => None,
            Some(c) => Some((c, c.stage(table)?)),
        };
        #[cfg(not(feature = "distributed"))]
        let on_cluster = cluster;
        let ev = match &on_cluster {
            None => engine.evaluate(table)?,
            #[cfg(feature = "distributed")]
            Some((c, staged)) => engine.evaluate_with(table, &c.conditions(&engine, staged)?)?,
            #[cfg(not(feature = "distributed"))]
            Some(never) => match *never {},
        };
        timings.rules = clock.elapsed().as_secs_f64();

        // Isolation forest over the numeric features.
        let clock = Instant::now();
        self.stage(Stage::Model);
        let names: Vec<String> = CATALOG.iter().map(|d| d.name.to_owned()).collect();
        #[cfg_attr(not(feature = "distributed"), expect(unused_variables))]
        let (x, medians) = matrix(table, &names);
        let forest = match model {
            Some(m) => {
                m.check_features(&names)?;
                m
            }
            None => {
                let params = IsolationForestParams::new()
                    .n_trees(100)
                    .sample_size(256)
                    .seed(self.seed);
                let params = linfa_check(params)?;
                IsolationForest::fit_named(&params, x.view(), names.clone())?
            }
        };
        // On a cluster, where the forest scored the table (the manifest says).
        let (scores, scored_on): (_, Option<&str>) = match &on_cluster {
            None => (forest.score(x.view())?, None),
            #[cfg(feature = "distributed")]
            Some((c, staged)) => match c.scores(staged, &forest, &medians)? {
                Some(s) => (ndarray::Array1::from(s), Some("cluster")),
                None => (
                    forest.score(x.view())?,
                    Some(
                        "local: the cluster does not know redflag_iforest_score (start its \
                         scheduler and executors with `redflag cluster`)",
                    ),
                ),
            },
            #[cfg(not(feature = "distributed"))]
            Some(never) => match *never {},
        };
        // The staged table is removed now.
        #[cfg(feature = "distributed")]
        drop(on_cluster);
        let percentiles: Vec<f64> = scores.iter().map(|&s| forest.percentile(s)).collect();
        timings.model = clock.elapsed().as_secs_f64();

        // The input files' SHA-256 for the manifest, started beside the alerts stage, parts of
        // which (ranking, assembling alerts) run on one core: the pool's idle workers hash them.
        let paths: Vec<PathBuf> = report.files.iter().map(|f| f.path.clone()).collect();
        let hashing = std::thread::spawn(move || {
            paths
                .par_iter()
                .map(|p| file_entry(p))
                .collect::<Result<Vec<_>>>()
        });

        // Scores, alerts, cases, evidence.
        let clock = Instant::now();
        self.stage(Stage::Alerts);
        // Of the feature table, this stage reads the entity ids and kinds only: the feature
        // columns go (8 bytes a feature an entity; 1.6 GB at 2M entities).
        let n = features.batch.num_rows();
        let (id_column, kind_column) = (
            features.batch.column(0).clone(),
            features.batch.column(1).clone(),
        );
        features.batch = RecordBatch::new_empty(features.batch.schema());
        redflag_features::release_freed_memory();
        let ids = id_column.as_string::<i32>();
        let kinds = kind_column.as_string::<i32>();
        let rule_scores: Vec<f64> = (0..n)
            .map(|row| {
                rule_score(
                    ev.hits_of(row)
                        .iter()
                        .map(|h| (engine.rules()[h.rule].rule.weight, h.severity)),
                )
            })
            .collect();
        let risks: Vec<f64> = (0..n)
            .map(|r| risk(rule_scores[r], percentiles[r]))
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            risks[b]
                .total_cmp(&risks[a])
                .then_with(|| kinds.value(a).cmp(kinds.value(b)))
                .then_with(|| ids.value(a).cmp(ids.value(b)))
        });
        let entity_scores: Vec<EntityScore> = order
            .iter()
            .enumerate()
            .map(|(k, &r)| EntityScore {
                entity_id: ids.value(r).to_owned(),
                entity_kind: kinds.value(r).to_owned(),
                risk: risks[r],
                rule_score: rule_scores[r],
                anomaly_score: scores[r],
                rank: k + 1,
            })
            .collect();
        // Candidates in rank order; cases are found among all of them, then the queue keeps at
        // most `max_per_case` alerts of a case (so one network does not flood it) and the
        // first `budget`.
        let candidates: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&r| ev.alerted[r] || percentiles[r] >= ANOMALY_ONLY_PERCENTILE)
            .collect();
        // The candidates' rows of the feature matrix are all that is read of it from here on
        // (their attributions): the others go.
        let x = x.select(ndarray::Axis(0), &candidates);
        redflag_features::release_freed_memory();
        let fairness = {
            let entities: Vec<crate::fairness::Entity<'_>> = (0..n)
                .map(|r| crate::fairness::Entity {
                    kind: kinds.value(r),
                    alerted: ev.alerted[r] || percentiles[r] >= ANOMALY_ONLY_PERCENTILE,
                    indicators: ev.hits_of(r).len(),
                })
                .collect();
            crate::fairness::assess(&entities, &features.profiles)
        };
        let versions = Versions {
            alert_format: ALERT_FORMAT_VERSION,
            tool: env!("CARGO_PKG_VERSION").to_owned(),
            rule_pack: format!("{} {}", engine.pack().pack.name, engine.pack().pack.version),
            rule_pack_sha256: engine.pack().sha256.clone(),
            model: match &self.model {
                Some(p) => format!("{} (training data {})", p.display(), forest.training_hash()),
                None => format!(
                    "isolation forest fitted on this batch, seed {} (training data {})",
                    self.seed,
                    forest.training_hash()
                ),
            },
            reference: reference
                .versions
                .iter()
                .map(|(k, (v, h))| (k.clone(), format!("{v} {h}")))
                .collect(),
        };
        let keys: Vec<(String, String)> = candidates
            .iter()
            .map(|&r| (kinds.value(r).to_owned(), ids.value(r).to_owned()))
            .collect();
        // Under a memory limit: the window's transactions of the candidates, and their ids.
        if let Some((window, file)) = deferred.take() {
            let mut touching = vec![false; n];
            for &r in &candidates {
                touching[r] = true;
            }
            ledger = window.ledger(Some(&touching))?;
            drop(window);
            window_ids = ids_in_ledger(file, &ledger)?;
        }
        let kept: Vec<usize> = ledger.batches().map(|r| r.len()).collect();
        let misaligned = kept.len() != window_ids.len()
            || kept
                .iter()
                .zip(&window_ids)
                .any(|(k, ids)| ids.as_ref().is_some_and(|a| a.len() != *k));
        if misaligned {
            return Err(Error::Output(
                "the evidence ids do not line up with the transactions of the window".into(),
            ));
        }
        let txn_ids: Vec<Option<Text<'_>>> = window_ids
            .iter()
            .map(|c| c.as_ref().and_then(|c| Text::of(c.as_ref())))
            .collect();
        let txn_id = |i: usize| {
            let (b, k) = ledger.position(i);
            txn_ids[b].and_then(|t| t.get(k)).unwrap_or_default()
        };
        let links = Links::collect(&ledger, txn_id, &candidates, n, features.as_of);
        let mut per_case: HashMap<usize, usize> = HashMap::new();
        let kept: Vec<usize> = (0..candidates.len())
            .filter(|&k| {
                let n = per_case.entry(links.case_root(k)).or_default();
                *n += 1;
                *n <= self.max_per_case.unwrap_or(usize::MAX)
            })
            .take(self.budget.unwrap_or(usize::MAX))
            .collect();
        let flows = {
            let mut top = vec![false; n];
            for &k in kept.iter().take(FLOW_ALERTS) {
                if keys[k].0 != "customer" {
                    top[candidates[k]] = true;
                }
            }
            let name = |e: Option<usize>| e.map_or(CASH_PARTY, |e| ids.value(e));
            collect_flows(&ledger, &top, name, features.as_of)
        };
        // The transactions are not read again: their memory goes to assembling the alerts.
        drop(ledger);
        let attributions = {
            let sub = x.select(ndarray::Axis(0), &kept);
            forest.attributions(sub.view())?
        };
        let mut alerts: Vec<Alert> = kept
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let r = candidates[k];
                let hits = ev.hits_of(r);
                // Strongest first: severity, then weight, then rule id.
                let mut ordered: Vec<&redflag_rules::Hit> = hits.iter().collect();
                ordered.sort_by(|a, b| {
                    let (ra, rb) = (&engine.rules()[a.rule].rule, &engine.rules()[b.rule].rule);
                    b.severity
                        .cmp(&a.severity)
                        .then(rb.weight.total_cmp(&ra.weight))
                        .then(ra.id.cmp(&rb.id))
                });
                let reasons: Vec<Reason> = ordered
                    .iter()
                    .map(|h| {
                        let rule = &engine.rules()[h.rule].rule;
                        Reason {
                            code: rule.name.clone(),
                            rule_id: rule.id.clone(),
                            group: rule.group.clone(),
                            severity: h.severity.as_str().to_owned(),
                            text: h.reason.clone(),
                            values: h
                                .values
                                .iter()
                                .map(|(f, v, t)| ReasonValue {
                                    feature: f.clone(),
                                    value: *v,
                                    op: t.op.clone(),
                                    threshold: t.value,
                                })
                                .collect(),
                            sources: rule.sources.clone(),
                        }
                    })
                    .collect();
                let mut typologies: Vec<String> = hits
                    .iter()
                    .map(|h| engine.rules()[h.rule].rule.typology.clone())
                    .collect();
                typologies.dedup();
                let roles: Vec<&str> = hits
                    .iter()
                    .filter_map(|h| engine.rules()[h.rule].rule.role_hint.map(|r| r.as_str()))
                    .collect();
                let role_hint = if links.victim[k] {
                    "possible_victim"
                } else if roles.contains(&"possible_controller") {
                    "possible_controller"
                } else if roles.contains(&"possible_victim") {
                    "possible_victim"
                } else {
                    "unknown"
                };
                let mut top: Vec<TopFeature> = names
                    .iter()
                    .enumerate()
                    .map(|(j, name)| TopFeature {
                        name: name.clone(),
                        value: x[(k, j)],
                        contribution: attributions[(i, j)],
                    })
                    .filter(|t| t.contribution > 0.0)
                    .collect();
                top.sort_by(|a, b| {
                    b.contribution
                        .total_cmp(&a.contribution)
                        .then(a.name.cmp(&b.name))
                });
                top.truncate(5);
                let key = &keys[k];
                Alert {
                    alert_id: alert_id(&key.0, &key.1, features.as_of, &engine.pack().sha256),
                    rank: i + 1,
                    entity_id: key.1.clone(),
                    entity_kind: key.0.clone(),
                    risk: round6(risks[r]),
                    rule_score: round6(rule_scores[r]),
                    anomaly_score: round6(scores[r]),
                    anomaly_percentile: round6(percentiles[r]),
                    anomaly_only: !ev.alerted[r],
                    typologies,
                    reasons,
                    top_features: top
                        .into_iter()
                        .map(|t| TopFeature {
                            value: round6(t.value),
                            contribution: round6(t.contribution),
                            ..t
                        })
                        .collect(),
                    evidence_txn_ids: links.evidence[k].clone(),
                    role_hint: role_hint.to_owned(),
                    case_id: String::new(),
                    versions: versions.clone(),
                }
            })
            .collect();
        // Cases: the best-ranked alert's id names every alert linked to it by transactions (the
        // root is the case's first candidate, so it is kept whenever any of its case is).
        let position: HashMap<usize, usize> =
            kept.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        for (i, &k) in kept.iter().enumerate() {
            let root = position.get(&links.case_root(k)).copied().unwrap_or(i);
            alerts[i].case_id = alerts[root].alert_id.clone();
        }
        timings.alerts = clock.elapsed().as_secs_f64();
        let clock = Instant::now();

        // The files ingest read, as it expanded them.
        let inputs = hashing
            .join()
            .map_err(|_| Error::Output("hashing the input files failed".into()))??;
        let mut config = BTreeMap::from([
            ("mapping".to_owned(), self.mapping.clone()),
            ("base_currency".to_owned(), self.base_currency.clone()),
            (
                "rates".to_owned(),
                self.rates
                    .as_ref()
                    .map_or("none".into(), |p| p.display().to_string()),
            ),
            ("jurisdiction".to_owned(), self.jurisdiction.clone()),
            ("cash_threshold".to_owned(), cfg.cash_threshold.to_string()),
            (
                "budget".to_owned(),
                self.budget.map_or("none".into(), |b| b.to_string()),
            ),
            (
                "max_per_case".to_owned(),
                self.max_per_case.map_or("none".into(), |b| b.to_string()),
            ),
            (
                "reference_dir".to_owned(),
                self.reference_dir
                    .as_ref()
                    .map_or("built-in".into(), |p| p.display().to_string()),
            ),
        ]);
        if let Some(url) = &self.cluster {
            config.insert("cluster".to_owned(), url.clone());
        }
        if let (Some(limit), Some(p)) = (self.memory_limit, partitions) {
            config.insert("memory_limit".to_owned(), limit.to_string());
            config.insert("partitions".to_owned(), p.to_string());
        }
        if let Some(on) = scored_on {
            config.insert("cluster_forest".to_owned(), on.to_owned());
        }
        let manifest = Manifest {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            alert_format: ALERT_FORMAT_VERSION,
            inputs,
            ingest: report,
            config,
            rule_pack: BTreeMap::from([
                ("name".to_owned(), engine.pack().pack.name.clone()),
                ("version".to_owned(), engine.pack().pack.version.clone()),
                ("sha256".to_owned(), engine.pack().sha256.clone()),
            ]),
            reference: versions.reference.clone(),
            model: BTreeMap::from([
                ("source".to_owned(), versions.model.clone()),
                (
                    "training_blake3".to_owned(),
                    forest.training_hash().to_owned(),
                ),
                ("n_trees".to_owned(), forest.n_trees().to_string()),
            ]),
            seed: self.seed,
            as_of: chrono::DateTime::from_timestamp_micros(features.as_of)
                .map_or_else(|| features.as_of.to_string(), |t| t.to_rfc3339()),
            entities: n,
            alerts: alerts.len(),
            timings,
            fairness,
            ids: BTreeMap::from([("mode".to_owned(), "raw".to_owned())]),
        };
        let mut set = AlertSet {
            alerts,
            scores: entity_scores,
            manifest,
            flows,
            pseudonyms: None,
        };
        if let Some(key) = &self.key {
            set.pseudonymize(key.clone(), features.as_of, &engine.pack().sha256)?;
        }
        match &self.out_dir {
            Some(dir) => {
                self.stage(Stage::Write);
                set.write_outputs(dir)?;
                set.manifest.timings.output = clock.elapsed().as_secs_f64();
                set.write_manifest(dir)?;
            }
            None => set.manifest.timings.output = clock.elapsed().as_secs_f64(),
        }
        Ok(set)
    }
}

fn linfa_check(p: IsolationForestParams) -> Result<redflag_iforest::IsolationForestValidParams> {
    use linfa::ParamGuard;
    Ok(p.check()?)
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `v` to 4 decimals (rates and ratios in the fairness and tuning reports).
pub(crate) fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

pub(crate) fn alert_id(kind: &str, id: &str, as_of: i64, pack_sha: &str) -> String {
    let mut h = Sha256::new();
    for part in [kind, id, &as_of.to_string(), pack_sha] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("A-{}", crate::privacy::hex(&h.finalize()[..6]))
}

pub(crate) fn file_entry(path: &Path) -> Result<crate::engine::ManifestInput> {
    use std::io::Read;
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::Output(format!("{}: {e}", path.display())))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::Output(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok(ManifestInput {
        path: path.display().to_string(),
        size,
        sha256: crate::privacy::hex(&h.finalize()),
    })
}

/// Why a run has nothing to score: the inputs held no record, or every record was rejected
/// (with the count of each reason, most frequent first, and `see`: where the records are).
fn nothing_accepted(report: &redflag_io::IngestReport, see: &str) -> String {
    let files: Vec<String> = report
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    if report.rows_read == 0 {
        return format!(
            "no transactions to score: the input holds no records ({}); expected a header and \
             at least one transaction",
            files.join(", ")
        );
    }
    let reasons: Vec<String> = report
        .reasons_by_count()
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    format!(
        "no transactions to score: all {} records of {} were rejected ({}){see}",
        report.rows_read,
        files.join(", "),
        reasons.join(", ")
    )
}

/// Where the accepted transactions are while the features are computed.
enum Accepted<'a> {
    /// Handed to [`Engine::run_on`].
    Given(&'a Ingested),
    /// Read by this run, in memory.
    Owned(Ingested),
    /// Read by this run under a memory limit, on disk.
    Spilled(SpillFile, redflag_io::IngestReport),
}

/// Bytes a partition of the feature pass holds per transaction of the input: a transaction
/// touches two entities, so about 2 / partitions of them are packed per partition, each as a
/// 48-byte row, its 4-byte input position, an 8-byte leg and a 4-byte time-order slot.
const PARTITION_BYTES_PER_TRANSACTION: u64 = 2 * (48 + 4 + 8 + 4);

/// Ranges of entities a feature pass over `rows` transactions needs to keep a partition within
/// a third of `limit` (the rest is for the interned codes, the per-entity tables and the
/// 30-day ledger).
fn partitions_for(rows: usize, limit: u64) -> usize {
    let need = rows as u64 * PARTITION_BYTES_PER_TRANSACTION;
    let per_part = (limit / 3).max(1);
    need.div_ceil(per_part).clamp(1, 256) as usize
}

/// Whether a batch has a transaction in the 30 days up to `as_of`.
fn in_window(b: &RecordBatch, as_of: i64) -> bool {
    b.column_by_name(col::TS)
        .and_then(|t| t.as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>())
        .is_some_and(|ts| {
            ts.values()
                .iter()
                .any(|&t| t > as_of - 30 * DAY && t <= as_of)
        })
}

/// The earliest and latest transaction times of the batches (`i64::MAX`, `i64::MIN` when
/// there is none).
fn span(batches: &[RecordBatch]) -> (i64, i64) {
    batches
        .par_iter()
        .filter_map(|b| {
            let ts = b.column_by_name(col::TS)?;
            let ts = ts.as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>()?;
            Some((arrow::compute::min(ts)?, arrow::compute::max(ts)?))
        })
        .reduce(|| (i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)))
}

/// The error of an `as_of` whose 30-day window holds no transaction: every windowed feature
/// would be empty and the queue meaningless. Names the span of the data (`first`, `last`).
fn empty_window(as_of: i64, (first, last): (i64, i64)) -> Error {
    let show = |t: i64| {
        chrono::DateTime::from_timestamp_micros(t).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
    };
    Error::Config(format!(
        "as_of {}: no transaction falls in the 30 days up to it (the data runs from {} to {}), \
         so every windowed feature would be empty; give an --as-of within the data, or none \
         (the latest transaction)",
        show(as_of),
        show(first),
        show(last)
    ))
}

/// The latest transaction time of the batches (0 when there is none): the default `as_of`.
fn latest(batches: &[RecordBatch]) -> i64 {
    match span(batches) {
        (_, i64::MIN) => 0,
        (_, last) => last,
    }
}

/// Per batch, the `txn_id`s of its transactions with `from < ts <= to`, in order (`None` for a
/// batch without the column).
fn ids_between(batches: &[RecordBatch], from: i64, to: i64) -> Result<Vec<Option<ArrayRef>>> {
    batches
        .par_iter()
        .map(|b| {
            let (Some(ids), Some(ts)) = (
                b.column_by_name(col::TXN_ID),
                b.column_by_name(col::TS).and_then(|t| {
                    t.as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>()
                }),
            ) else {
                return Ok(None);
            };
            let inside: arrow::array::BooleanArray = ts
                .iter()
                .map(|t| Some(t.is_some_and(|t| t > from && t <= to)))
                .collect();
            arrow::compute::filter(ids.as_ref(), &inside)
                .map(Some)
                .map_err(|e| Error::Output(format!("taking the evidence ids: {e}")))
        })
        .collect()
}

/// The ids of the transactions `ledger` holds, per input batch of `file` and lined up with the
/// ledger's transactions of that batch (as [`ids_between`] gives them for a whole window).
fn ids_in_ledger(file: &SpillFile, ledger: &Ledger) -> Result<Vec<Option<ArrayRef>>> {
    let ranges: Vec<std::ops::Range<usize>> = ledger.batches().collect();
    let mut out: Vec<Option<ArrayRef>> = Vec::with_capacity(ranges.len());
    let mut failed = None;
    file.scan(&[col::TXN_ID], &mut |round| {
        let first = out.len();
        let got: Result<Vec<Option<ArrayRef>>> = round
            .par_iter()
            .enumerate()
            .map(|(k, b)| {
                let Some(ids) = b.column_by_name(col::TXN_ID) else {
                    return Ok(None);
                };
                let range = ranges.get(first + k).cloned().unwrap_or_default();
                let rows: arrow::array::UInt32Array =
                    range.map(|i| ledger.locate(i).1 as u32).collect();
                arrow::compute::take(ids.as_ref(), &rows, None)
                    .map(Some)
                    .map_err(|e| Error::Output(format!("taking the evidence ids: {e}")))
            })
            .collect();
        match got {
            Ok(got) => out.extend(got),
            Err(e) => failed = Some(e),
        }
        Ok(())
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The feature matrix, and the value each column's empty cells took: the column's median of
/// present values (the upper one of an even count; 0 when the column has none, or no empty
/// cell).
pub(crate) fn matrix(table: &RecordBatch, names: &[String]) -> (Array2<f64>, Vec<f64>) {
    /// A feature column, its type looked at once rather than per value.
    enum Values<'a> {
        Count(&'a arrow::array::UInt32Array),
        Real(&'a arrow::array::Float64Array),
    }
    impl Values<'_> {
        fn get(&self, i: usize) -> f64 {
            match self {
                Values::Count(a) => f64::from(a.value(i)),
                Values::Real(a) => a.value(i),
            }
        }
    }
    let n = table.num_rows();
    let f = names.len();
    let columns: Vec<(&ArrayRef, Values<'_>)> = names
        .iter()
        .map(|name| {
            let c = table.column_by_name(name).expect("catalog column");
            let values = match c.data_type() {
                DataType::UInt32 => Values::Count(c.as_primitive::<UInt32Type>()),
                _ => Values::Real(c.as_primitive::<Float64Type>()),
            };
            (c, values)
        })
        .collect();
    // Medians only where there is something to impute, by selection rather than a sort.
    let medians: Vec<f64> = columns
        .par_iter()
        .map(|(c, values)| {
            if c.null_count() == 0 {
                return 0.0;
            }
            let mut present: Vec<f64> = (0..n)
                .filter(|&i| c.is_valid(i))
                .map(|i| values.get(i))
                .collect();
            let mid = present.len() / 2;
            if present.is_empty() {
                0.0
            } else {
                *present.select_nth_unstable_by(mid, f64::total_cmp).1
            }
        })
        .collect();
    // Filled in place a block of rows at a time, on all threads: each block's rows stay in
    // cache while every column writes its value into them (a column at a time over the whole
    // matrix would touch one cache line per value).
    const BLOCK_ROWS: usize = 1024;
    let mut cells = vec![0.0; n * f];
    cells
        .par_chunks_mut(BLOCK_ROWS * f.max(1))
        .enumerate()
        .for_each(|(k, block)| {
            let start = k * BLOCK_ROWS;
            for (j, ((c, values), &median)) in columns.iter().zip(&medians).enumerate() {
                let nulls = c.null_count() > 0;
                for (r, row) in block.chunks_exact_mut(f).enumerate() {
                    let i = start + r;
                    row[j] = if nulls && c.is_null(i) {
                        median
                    } else {
                        values.get(i)
                    };
                }
            }
        });
    (
        Array2::from_shape_vec((n, f), cells).expect("n rows of f cells"),
        medians,
    )
}

/// Evidence transactions and case links of the alerted entities.
struct Links {
    evidence: Vec<Vec<String>>,
    parent: Vec<usize>,
    /// Hands most of its money to the entity its case's money flows to.
    victim: Vec<bool>,
}

/// Input batches visited side by side before their accumulators are merged: enough tasks to
/// keep every thread busy, while only this many accumulators are held at once.
const BATCHES_PER_ROUND: usize = 256;

/// Visits the transactions of the 30 days up to `as_of`, one input batch per task: `each(acc,
/// i)` for each transaction `i` of a batch, in order, into that batch's `acc` (from `init`);
/// then `merge(acc)` for every batch, in batch order, so that sums over them do not depend on
/// threads. Batches go in rounds of [`BATCHES_PER_ROUND`], each merged before the next starts,
/// so memory holds one round's accumulators, not one per batch of the input.
fn per_batch_30d<T: Send>(
    ledger: &Ledger,
    as_of: i64,
    each: impl Fn(&mut T, usize) + Sync,
    init: impl Fn() -> T + Sync,
    mut merge: impl FnMut(T),
) {
    let from = as_of - 30 * DAY;
    let ranges: Vec<std::ops::Range<usize>> = ledger.batches().collect();
    for round in ranges.chunks(BATCHES_PER_ROUND) {
        let accs: Vec<T> = round
            .par_iter()
            .map(|range| {
                let mut acc = init();
                for i in range.clone() {
                    let t = ledger.ts(i);
                    if t > from && t <= as_of {
                        each(&mut acc, i);
                    }
                }
                acc
            })
            .collect();
        accs.into_iter().for_each(&mut merge);
    }
}

/// A candidate's largest transactions, for its evidence: all that can still be among the
/// [`EVIDENCE`] largest, however many more arrive. Once [`EVIDENCE`] distinct ones are held,
/// anything smaller than the smallest of them never can be, so it is dropped as it comes (ties
/// are kept, since the evidence orders them by id).
#[derive(Clone)]
struct Largest<'b> {
    held: Vec<(f64, &'b str)>,
    /// Nothing smaller is taken.
    floor: f64,
    /// Size at which `held` is cut back to the floor next.
    limit: usize,
}

impl<'b> Largest<'b> {
    fn new() -> Self {
        Largest {
            held: Vec::new(),
            floor: f64::NEG_INFINITY,
            limit: 4 * EVIDENCE,
        }
    }

    /// Offers a transaction; its id (`txn`) is looked up only when it is held.
    fn push(&mut self, amount: f64, txn: impl FnOnce() -> &'b str) {
        if amount < self.floor {
            return;
        }
        self.held.push((amount, txn()));
        if self.held.len() >= self.limit {
            self.order();
            if let Some(&(nth, _)) = self.held.get(EVIDENCE - 1) {
                self.floor = nth;
                let kept = self.held.partition_point(|&(a, _)| a >= nth);
                self.held.truncate(kept);
            }
            // Many ties at the floor can keep `held` long: cut again only once it has doubled.
            self.limit = self.limit.max(2 * self.held.len());
        }
    }

    /// Largest first, ties by id; one entry per transaction (a transfer to oneself is held
    /// twice).
    fn order(&mut self) {
        self.held
            .sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        self.held.dedup_by(|a, b| a.1 == b.1);
    }

    /// The evidence: the ids of the [`EVIDENCE`] largest.
    fn evidence(mut self) -> Vec<String> {
        self.order();
        self.held
            .into_iter()
            .take(EVIDENCE)
            .map(|(_, id)| id.to_owned())
            .collect()
    }
}

impl Links {
    /// Links of the alert candidates `rows` (entity rows of the feature table, in rank order);
    /// `txn_id` gives a transaction's id for the evidence.
    fn collect<'b>(
        ledger: &Ledger,
        txn_id: impl Fn(usize) -> &'b str + Sync,
        rows: &[usize],
        n_entities: usize,
        as_of: i64,
    ) -> Links {
        // Candidate index of each entity row.
        let mut slot = vec![usize::MAX; n_entities];
        for (k, &r) in rows.iter().enumerate() {
            slot[r] = k;
        }
        let cand = |r: Option<usize>| r.map(|r| slot[r]).filter(|&k| k != usize::MAX);
        // Per batch, in parallel: (alert, amount, transaction) hits, alert pairs to join into
        // cases, payments between alerted entities, and (account, holder) pairs of alerted
        // entities.
        #[derive(Default)]
        struct BatchLinks {
            hits: Vec<(usize, f64, usize)>,
            pairs: Vec<(usize, usize)>,
            /// Money paid by one alerted entity to another (payer, payee, amount).
            inner: Vec<(usize, usize, f64)>,
            owners: Vec<(usize, usize)>,
        }
        let mut found: Vec<Largest<'b>> = vec![Largest::new(); rows.len()];
        let mut parent: Vec<usize> = (0..rows.len()).collect();
        let mut paid_in = vec![0.0; rows.len()];
        let mut paid_out = vec![0.0; rows.len()];
        let mut paid: HashMap<(usize, usize), f64> = HashMap::new();
        let mut owner: Vec<(usize, usize)> = Vec::new();
        per_batch_30d(
            ledger,
            as_of,
            |l: &mut BatchLinks, i| {
                let (ps, pr) = ledger.parties(i);
                let (ps, pr) = (cand(ps), cand(pr));
                let (cs, cr) = ledger.customers(i);
                let (cs, cr) = (cand(cs), cand(cr));
                if ps.is_none() && pr.is_none() && cs.is_none() && cr.is_none() {
                    return;
                }
                let amount = ledger.amount(i);
                if !ledger.is_card(i) {
                    for (a, b) in [(ps, pr), (cs, cr)] {
                        if let (Some(a), Some(b)) = (a, b)
                            && a != b
                        {
                            l.inner.push((a, b, amount));
                        }
                    }
                }
                // Which alerted customer holds which alerted account.
                for (acct, holder) in [(ps, cs), (pr, cr)] {
                    if let (Some(a), Some(h)) = (acct, holder) {
                        l.owners.push((a, h));
                    }
                }
                let mut first = None;
                for k in [ps, pr, cs, cr].into_iter().flatten() {
                    l.hits.push((k, amount, i));
                    match first {
                        None => first = Some(k),
                        Some(f) => l.pairs.push((f, k)),
                    }
                }
            },
            BatchLinks::default,
            |mut l| {
                l.owners.sort_unstable();
                l.owners.dedup();
                owner.extend(l.owners);
                for (a, b, amount) in l.inner {
                    paid_out[a] += amount;
                    paid_in[b] += amount;
                    *paid.entry((a, b)).or_default() += amount;
                }
                for (k, amount, i) in l.hits {
                    found[k].push(amount, || txn_id(i));
                }
                for (a, b) in l.pairs {
                    union(&mut parent, a, b);
                }
            },
        );
        let evidence = found.into_par_iter().map(Largest::evidence).collect();
        // Inside each case, the entity that nets the most from the others is where the money
        // goes; an entity that sends most of what it pays to the case to that sink is handing
        // over its money (wages swept, takings passed on, a mule's account): a possible victim
        // (FC20 p.4, p.8), whatever else fired.
        let mut links = Links {
            evidence,
            parent,
            victim: vec![false; rows.len()],
        };
        let mut sink: HashMap<usize, (f64, usize)> = HashMap::new();
        for k in 0..rows.len() {
            let net = paid_in[k] - paid_out[k];
            let root = links.case_root(k);
            let e = sink.entry(root).or_insert((0.0, usize::MAX));
            if net > e.0 || (net == e.0 && k < e.1) {
                *e = (net, k);
            }
        }
        for k in 0..rows.len() {
            let Some(&(net, s)) = sink.get(&links.case_root(k)) else {
                continue;
            };
            if s == k || net <= 0.0 || paid_out[k] <= 0.0 {
                continue;
            }
            let to_sink = paid.get(&(k, s)).copied().unwrap_or_default();
            links.victim[k] = to_sink >= 0.5 * paid_out[k] && paid_out[k] > paid_in[k];
        }
        // A customer whose alerted accounts are all possible victims is one too.
        owner.sort_unstable();
        owner.dedup();
        let mut holder: HashMap<usize, bool> = HashMap::new();
        for &(acct, cust) in &owner {
            let all = holder.entry(cust).or_insert(true);
            *all &= links.victim[acct];
        }
        for (cust, all) in holder {
            links.victim[cust] |= all;
        }
        links
    }

    /// The best-ranked alert of `k`'s case (alerts are in rank order, so the smallest index).
    fn case_root(&self, k: usize) -> usize {
        let mut x = k;
        while self.parent[x] != x {
            x = self.parent[x];
        }
        x
    }
}

/// Money flows (card purchases left out) over the 30 days before `as_of` that touch one of the
/// entity rows marked in `parties`, summed per (payer, payee) and sorted; `name` gives an
/// entity row's id (cash is [`CASH_PARTY`]).
fn collect_flows<'n>(
    ledger: &Ledger,
    parties: &[bool],
    name: impl Fn(Option<usize>) -> &'n str,
    as_of: i64,
) -> Vec<Flow> {
    /// Amount and count per (payer, payee).
    type Sums = HashMap<(Option<usize>, Option<usize>), (f64, u32)>;
    let touches = |e: Option<usize>| e.is_some_and(|e| parties[e]);
    let mut total: HashMap<(&str, &str), (f64, u32)> = HashMap::new();
    per_batch_30d(
        ledger,
        as_of,
        |flows: &mut Sums, i| {
            let (s, r) = ledger.parties(i);
            if ledger.is_card(i) || !(touches(s) || touches(r)) {
                return;
            }
            let f = flows.entry((s, r)).or_insert((0.0, 0));
            f.0 += ledger.amount(i);
            f.1 += 1;
        },
        HashMap::new,
        |flows| {
            for ((s, r), (amount, count)) in flows {
                let f = total.entry((name(s), name(r))).or_insert((0.0, 0));
                f.0 += amount;
                f.1 += count;
            }
        },
    );
    let mut flows: Vec<Flow> = total
        .into_iter()
        .map(|((from, to), (amount, count))| Flow {
            from: from.to_owned(),
            to: to.to_owned(),
            amount,
            count,
        })
        .collect();
    flows.sort_by(|a, b| a.from.cmp(&b.from).then_with(|| a.to.cmp(&b.to)));
    flows
}

/// Joins two sets, keeping the smaller index as the root.
fn union(parent: &mut [usize], a: usize, b: usize) {
    let find = |parent: &mut [usize], mut x: usize| {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    };
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi] = lo;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns without nulls are copied (counts widened from u32); empty cells take the upper
    /// median of the column's present values, and an all-empty column gives 0.
    #[test]
    fn the_matrix_imputes_empty_cells_with_the_column_median() {
        use arrow::array::{Float64Array, UInt32Array};
        use arrow::datatypes::{Field, Schema};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::UInt32, false),
            Field::new("odd", DataType::Float64, true),
            Field::new("even", DataType::Float64, true),
            Field::new("empty", DataType::Float64, true),
        ]));
        let table = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt32Array::from(vec![4, 0, 7, 1, 9])),
                Arc::new(Float64Array::from(vec![
                    Some(5.0),
                    None,
                    Some(-1.0),
                    Some(3.0),
                    None,
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(8.0),
                    Some(2.0),
                    None,
                    Some(6.0),
                    Some(4.0),
                ])),
                Arc::new(Float64Array::from(vec![None::<f64>; 5])),
            ],
        )
        .expect("table");
        let names: Vec<String> = ["n", "odd", "even", "empty"].map(String::from).to_vec();
        let (x, _) = matrix(&table, &names);
        let want = [
            [4.0, 5.0, 8.0, 0.0],
            [0.0, 3.0, 2.0, 0.0],
            [7.0, -1.0, 6.0, 0.0],
            [1.0, 3.0, 6.0, 0.0],
            [9.0, 3.0, 4.0, 0.0],
        ];
        for (r, row) in want.iter().enumerate() {
            assert_eq!(x.row(r).to_vec(), row.to_vec(), "row {r}");
        }

        // Thousands of rows (filled a block at a time): every cell in its place.
        let n = 2500usize;
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::UInt32, false),
            Field::new("v", DataType::Float64, true),
        ]));
        let v = |i: usize| (i % 7 != 3).then(|| (i * 37 % 1000) as f64 - 500.0);
        let table = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt32Array::from_iter_values((0..n as u32).rev())),
                Arc::new(Float64Array::from_iter((0..n).map(v))),
            ],
        )
        .expect("table");
        let mut present: Vec<f64> = (0..n).filter_map(v).collect();
        present.sort_by(f64::total_cmp);
        let median = present[present.len() / 2];
        let (x, _) = matrix(&table, &["n".to_owned(), "v".to_owned()]);
        for i in 0..n {
            assert_eq!(x[(i, 0)], (n - 1 - i) as f64, "row {i}");
            assert_eq!(x[(i, 1)], v(i).unwrap_or(median), "row {i}");
        }
    }

    /// The evidence of everything at once: sort all, one per id, take the largest.
    fn all_at_once(txns: &[(f64, String)]) -> Vec<String> {
        let mut v: Vec<(f64, &str)> = txns.iter().map(|(a, id)| (*a, id.as_str())).collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        v.dedup_by(|a, b| a.1 == b.1);
        v.into_iter()
            .take(EVIDENCE)
            .map(|(_, id)| id.to_owned())
            .collect()
    }

    /// The library path (batches read by the caller, kept whole) and the CLI path (batches
    /// read by the run, which lets their columns go) name the same evidence, on the population
    /// sample whose alerts carry many evidence transactions.
    #[test]
    fn a_run_on_batches_already_read_gives_the_alerts_of_a_run_that_reads_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/population");
        let engine = Engine::new([root.join("transactions.csv.gz").display().to_string()])
            .rates_file(root.join("rates.csv"))
            .reference_dir(root.join("reference"))
            .today("2024-06-01");
        let read = engine.run().expect("run");
        let ingested = engine.ingest().expect("ingest");
        let given = engine.run_on(&ingested).expect("run_on");
        assert!(read.alerts.len() > 20);
        let evidence: usize = read.alerts.iter().map(|a| a.evidence_txn_ids.len()).sum();
        assert!(evidence > 10 * read.alerts.len(), "{evidence} evidence ids");
        assert_eq!(read.alerts, given.alerts);
        assert_eq!(read.scores, given.scores);

        // Every evidence transaction is one of the entity's own, of the 30 days up to `as_of`
        // (the input spans four months, so most transactions are outside the window), and each
        // names its largest ones first.
        let mut txns: HashMap<String, (i64, f64, [String; 4])> = HashMap::new();
        for b in &ingested.batches {
            let text = |name: &str| Text::of(b.column_by_name(name).expect(name).as_ref());
            let (ids, ts, amount) = (
                text(col::TXN_ID).expect("ids"),
                b.column_by_name(col::TS)
                    .expect("ts")
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>(),
                b.column_by_name(col::AMOUNT_BASE)
                    .expect("amount")
                    .as_primitive::<Float64Type>(),
            );
            let parties = [
                col::SENDER_ID,
                col::RECEIVER_ID,
                col::SENDER_CUSTOMER_ID,
                col::RECEIVER_CUSTOMER_ID,
            ]
            .map(|c| text(c).expect(c));
            for i in 0..b.num_rows() {
                let party = |k: usize| parties[k].get(i).unwrap_or_default().to_owned();
                txns.insert(
                    ids.get(i).unwrap_or_default().to_owned(),
                    (ts.value(i), amount.value(i), [0, 1, 2, 3].map(party)),
                );
            }
        }
        let as_of = txns.values().map(|t| t.0).max().expect("transactions");
        let outside = txns.values().filter(|t| t.0 <= as_of - 30 * DAY).count();
        assert!(
            outside > txns.len() / 2,
            "{outside} of {} outside",
            txns.len()
        );
        for a in &read.alerts {
            let amounts: Vec<f64> = a
                .evidence_txn_ids
                .iter()
                .map(|id| {
                    let (ts, amount, parties) = &txns[id];
                    assert!(*ts > as_of - 30 * DAY, "{id} of {} is too old", a.entity_id);
                    assert!(
                        parties.contains(&a.entity_id),
                        "{id} is not {}'s",
                        a.entity_id
                    );
                    *amount
                })
                .collect();
            assert!(
                amounts.windows(2).all(|w| w[0] >= w[1]),
                "{}: {amounts:?}",
                a.entity_id
            );
        }
    }

    #[test]
    fn largest_keeps_the_evidence_of_everything_at_once() {
        // xorshift: amounts from a few values (many ties) or spread out, in rising, falling and
        // shuffled orders, some transactions held twice (a transfer to oneself).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..300 {
            let n = (next() % 2000) as usize;
            let distinct = [3, 50, 1_000_000][case % 3];
            let mut txns: Vec<(f64, String)> = (0..n)
                .map(|i| {
                    (
                        (next() % distinct) as f64 / 4.0,
                        format!("t{:05}", next() % 100_000 + i as u64),
                    )
                })
                .collect();
            match case % 4 {
                0 => txns.sort_by(|a, b| a.0.total_cmp(&b.0)),
                1 => txns.sort_by(|a, b| b.0.total_cmp(&a.0)),
                _ => {}
            }
            let mut pushed = Vec::new();
            for t in &txns {
                pushed.push(t.clone());
                if next() % 5 == 0 {
                    pushed.push(t.clone());
                }
            }
            let mut largest = Largest::new();
            for (a, id) in &pushed {
                largest.push(*a, || id);
            }
            assert_eq!(
                largest.evidence(),
                all_at_once(&pushed),
                "case {case}, {n} pushed"
            );
        }
    }
}
