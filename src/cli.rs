//! Command-line arguments (clap types live here alone).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// redflag finds human-trafficking-linked money laundering in payment and crypto transaction
/// records, and explains every alert so that a human analyst can decide.
#[derive(Debug, Parser)]
#[command(name = "redflag", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Worker threads for parsing and checking (default: one per core). Results do not
    /// depend on it.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole job: read and validate INPUT, compute entity features, evaluate the rule
    /// pack, score anomalies with an isolation forest, and write a ranked, explained alert
    /// queue to --out DIR: alerts.jsonl, alerts.csv, alerts.parquet, scores.csv (every
    /// entity), report.html (one self-contained page: summary, charts, top alerts, each top
    /// case's money flows), rejected.csv and manifest.json (the audit record). Every file is
    /// written atomically.
    ///
    /// Identifiers are keyed pseudonyms (P-...) unless --raw-ids; reveal.map holds the raw ids
    /// encrypted under the key, for `redflag reveal`. The manifest and the report give alert
    /// rates per segment (entity kind, channel mix, region, institution) and warn about
    /// disparities that fired indicators do not explain.
    ///
    /// Risk = 1 − (1 − rule score) · (1 − 0.4 · a), where the rule score is a noisy-OR of the
    /// fired rules' weights (× 0.5 / 0.75 / 1 for low / medium / high severity) and a rises from
    /// 0 at the 90th anomaly percentile to 1 at the 100th. An entity alerts when the pack's
    /// policy is met (by default: rules of two groups, or one hard match) or, labelled
    /// anomaly_only, when its anomaly percentile is 99.5 or more.
    Run(RunArgs),
    /// Read inputs and report, per file and in total, records read / accepted / rejected and
    /// the count per reject reason. Nothing is scored.
    ///
    /// Exit status: 0 when every file could be read (rejected records are reported, not
    /// fatal); 1 with --fail-on-rejects when any record was rejected; 2 when a file could not
    /// be used or an option is wrong.
    Check(CheckArgs),
    /// Compute the entity feature table (one row per account, merchant, wallet, external party
    /// and customer) that rules and the isolation forest read, and write it for inspection.
    ///
    /// `--list` prints every feature column with its window, unit, the indicators that use it
    /// and what it means.
    Features(FeaturesArgs),
    /// Rule packs: list the rules, check a pack file, explain one rule.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Mapping profiles: how a source layout maps onto the canonical schema.
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Isolation forest on a feature table: fit a model file, score a table with it.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Measure detection quality against labels: ROC-AUC, PR-AUC (average precision),
    /// precision@k and recall@k, overall, per role (controller, victim, front business) and
    /// per typology.
    ///
    /// The population is the labelled entities; one that a scores file lacks ranks last.
    /// Give --scores several times to compare detectors (redflag's scores.csv and a
    /// baseline's) side by side on the same labels.
    Eval(EvalArgs),
    /// Generate a synthetic bank population with planted, labelled trafficking cases and benign
    /// look-alikes of every red flag, for testing rules, training and benchmarks.
    ///
    /// Writes to --out DIR: transactions.csv (or .parquet) in the canonical schema, rates.csv,
    /// account_labels.csv, customer_labels.csv, transaction_labels.csv,
    /// reference/vasp_attribution.csv (the synthetic service wallets, for
    /// `redflag run --reference-dir DIR/reference`) and summary.json. The same arguments give
    /// byte-identical files whatever --threads.
    Synth(SynthArgs),
    /// Sweep each rule's thresholds and the alert policy over a batch, to choose and justify
    /// them: per setting the entities fired and alerted and, with --labels, precision and
    /// recall; entities just under each rule's line for review.
    ///
    /// Strictness s moves all thresholds of one rule at a time (0.5 to 2; s > 1 stricter: a
    /// `>=` threshold times s, a `<=` one divided by s), the other rules as written. Writes to
    /// --out DIR: tune.html (the trade-off chart and tables), tune_rules.csv, tune_policy.csv,
    /// below_the_line.csv (pseudonymous unless --raw-ids) and tune.json. Rules only: the
    /// isolation forest, --model, --budget and --seed play no part.
    Tune(TuneArgs),
    /// Estimate recall without labels: plant synthetic trafficking cases (from the generator
    /// behind `redflag synth`) into INPUT, in its own time range, wired to its real accounts,
    /// external parties and merchants, run detection exactly as `redflag run` would with the same
    /// options, and report per typology and role the share of planted member accounts that
    /// reach the alert queue (at --budget when given).
    ///
    /// Writes the run's outputs (planted entities included, ids INJ-...) plus inject.json and
    /// inject.csv (every planted account, its typology, role and alert rank) to --out DIR.
    Inject(InjectArgs),
    /// Map an alert id or pseudonym of a run back to the raw identifier, for a stated purpose.
    ///
    /// `redflag run` writes pseudonyms (P-...) for every account, customer, wallet and
    /// counterparty, and reveal.map, the raw ids encrypted under the key. Reveal decrypts one
    /// entry only after appending who, when, what (alert, pseudonym, run) and why to the
    /// hash-chained audit log; the log never holds the raw id. Check the log with
    /// `redflag audit verify`.
    Reveal(RevealArgs),
    /// The audit log of reveals.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Export alerts to the formats FIUs read.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Time redflag's stages on your own files (release builds; see benches/ for the
    /// side-by-side comparisons with polars and scikit-learn).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run a Ballista scheduler or executor that knows redflag's cluster functions, for
    /// `redflag run --cluster df://HOST:PORT` (in builds with the `distributed` feature).
    #[cfg(feature = "distributed")]
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Fit an isolation forest on TABLE and write the model file (JSON).
    ///
    /// TABLE is CSV (with a header) or Parquet. Its numeric columns, less --exclude, are the
    /// features; empty cells are imputed with the column's median (kept in the model); NaN or
    /// infinite values are refused with the column's name.
    Fit {
        /// The feature table (CSV or Parquet).
        #[arg(long, value_name = "TABLE")]
        input: PathBuf,
        /// Where to write the model (JSON, written atomically).
        #[arg(long, value_name = "MODEL.json")]
        out: PathBuf,
        /// Number of trees.
        #[arg(long, value_name = "N", default_value_t = 200)]
        n_trees: usize,
        /// Rows drawn for each tree (ψ).
        #[arg(long, value_name = "N", default_value_t = 256)]
        sample_size: usize,
        /// Seed; the same seed and table give the same model on any number of threads.
        #[arg(long, value_name = "N", default_value_t = 0)]
        seed: u64,
        /// Numeric columns that are not features (ids, labels); they are carried through
        /// when scoring.
        #[arg(long, value_name = "COL,...", value_delimiter = ',')]
        exclude: Vec<String>,
        /// Extended isolation forest (random hyperplane splits) instead of axis-parallel.
        #[arg(long)]
        extended: bool,
    },
    /// Score TABLE with a model file; write SCORES.csv with the carried-through columns,
    /// `score` (0–1, higher is more anomalous) and `percentile` (among the training scores).
    Score {
        /// The model file written by `redflag model fit`.
        #[arg(long, value_name = "MODEL.json")]
        model: PathBuf,
        /// The table to score (CSV or Parquet) with the model's feature columns.
        #[arg(long, value_name = "TABLE")]
        input: PathBuf,
        /// Where to write the scores (CSV, written atomically).
        #[arg(long, value_name = "SCORES.csv")]
        out: PathBuf,
        /// Numeric columns that are not features; carried through like the text columns.
        #[arg(long, value_name = "COL,...", value_delimiter = ',')]
        exclude: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules of a pack: id, name, group, severity, weight, sources.
    List {
        /// The pack file (default: the built-in trafficking pack, models/rules/trafficking.toml).
        #[arg(long, value_name = "FILE")]
        pack: Option<PathBuf>,
        /// One JSON object per line instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Check a pack file: TOML layout, ids, groups, weights, sources, and every `when`,
    /// `escalate_when` and reason template against the feature columns. Exit status 0 when
    /// valid, 2 with every error listed otherwise.
    Check {
        /// The pack file.
        file: PathBuf,
    },
    /// Show one rule in full: condition, thresholds, reason, role hint, sources.
    Explain {
        /// Rule id, e.g. SE-1.
        id: String,
        /// The pack file (default: the built-in pack).
        #[arg(long, value_name = "FILE")]
        pack: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Read + validate INPUT into the accepted table, as `redflag run` does, and print one JSON
    /// line: rows, seconds, rows/s, the Arrow size of the accepted table and the peak resident
    /// memory of this process.
    Ingest {
        #[command(flatten)]
        input: InputArgs,
    },
    /// Read + validate INPUT, compute the entity feature table (graph pass included), run the
    /// built-in rule pack over it, and print one JSON line: rows, entities, seconds per stage,
    /// rule hits and alerts, and peak resident memory.
    Features {
        #[command(flatten)]
        input: InputArgs,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output directory (created when missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Rule pack file (default: the built-in trafficking pack; see `redflag rules list`).
    #[arg(long, value_name = "PACK")]
    pub rules: Option<PathBuf>,
    /// Isolation-forest model file (default: fit on this batch). Make one from a
    /// `redflag features` table with `redflag model fit --input FEATURES --exclude segment`;
    /// its features must be the feature table's, in order.
    #[arg(long, value_name = "MODEL.json")]
    pub model: Option<PathBuf>,
    /// End of every window (RFC 3339). Default: the latest transaction time in the input. A
    /// time whose 30 days hold no transaction is refused, with the span of the data.
    #[arg(long, value_name = "TS")]
    pub as_of: Option<String>,
    /// Keep only the top K alerts.
    #[arg(long, value_name = "K")]
    pub budget: Option<usize>,
    /// Keep at most N alerts of each case (entities linked by transactions), so that one
    /// network does not flood the queue; applied before --budget. The others keep their rank
    /// in scores.csv.
    #[arg(long, value_name = "N")]
    pub max_per_case: Option<usize>,
    /// No progress line on stderr (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Seed of the isolation forest; the same inputs and seed give byte-identical outputs on
    /// any number of threads.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub reference: ReferenceArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Write raw identifiers instead of pseudonyms (recorded in manifest.json as ids.mode =
    /// raw). Use only where the outputs never leave the people allowed to see identities.
    #[arg(long)]
    pub raw_ids: bool,
    /// Evaluate the rule pack and score the isolation forest on a DataFusion Ballista cluster:
    /// df://HOST:PORT names its scheduler (start it and its executors with `redflag cluster`;
    /// stock Ballista processes run the rules only); `standalone` starts a scheduler and an
    /// executor inside this process (loopback only), to try it out. Outputs are byte-identical
    /// to a run without it; manifest.json records the address and where the forest was
    /// scored. Needs a redflag built with `--features distributed`.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// Directory where --cluster stages the feature table as Parquet for the executors to
    /// read: it must be visible to them under the same path (a shared mount). Default: the
    /// output directory. The staged files are removed once the rules and the forest have run.
    #[arg(long, value_name = "DIR", requires = "cluster")]
    pub cluster_staging: Option<PathBuf>,
    /// Keep the data that grows with the number of transactions within about this much memory
    /// (bytes, or with a unit: 512MiB, 6GiB, 8GB): accepted rows are spilled to disk as they
    /// are read, and the feature pass runs over the spill file one range of entities at a
    /// time, as many ranges as the limit needs. Outputs are byte-identical to a run without
    /// it; the spill costs disk about the input's in-memory size (90 bytes a transaction for a
    /// plain payments file) and one read of it per range. The per-entity tables (about 1 KB an
    /// entity) come on top. manifest.json records the limit and the number of ranges. Only
    /// `redflag run` keeps a limit: tune and inject hold the table in memory and refuse it.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory_limit: Option<u64>,
    /// Directory for the --memory-limit spill (default: the output directory); removed when
    /// the run ends.
    #[arg(long, value_name = "DIR", requires = "memory_limit")]
    pub spill_dir: Option<PathBuf>,
}

/// A byte count: digits, optionally followed by KB, MB, GB, TB (powers of 1000) or KiB, MiB,
/// GiB, TiB (powers of 1024); B or no unit is bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number of bytes, such as 6GiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?}: expected a positive number of bytes"));
    }
    Ok(bytes as u64)
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Labels (account_labels.csv or customer_labels.csv of `redflag synth`, or any CSV with an
    /// id column and is_suspicious) for precision and recall.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InjectArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Cases to plant (they cycle through the typologies; the first of each is clear, later
    /// ones vary in intensity as in `redflag synth`).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub cases: u32,
    /// Typologies to plant (comma-separated; default all): sex_ads, funnel, structuring,
    /// wage_sweep, labour_front, corridor_fan_in, crypto_ads, travel_visa, fan_in, fan_out,
    /// scatter_gather, gather_scatter, cycle, bipartite, stack, layered_chain.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub typologies: Vec<String>,
}

/// The pseudonymisation key.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Key file (64 hex digits). Default: $REDFLAG_KEY_FILE, else `key` in redflag's directory
    /// ($REDFLAG_HOME, else ~/.config/redflag), created with mode 0600 on first use. Keep it:
    /// without it, pseudonyms cannot be revealed and the next run's pseudonyms differ.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RevealArgs {
    /// An alert id (A-...) from the run's alerts.jsonl, or a pseudonym (P-...) from any of its
    /// outputs.
    #[arg(value_name = "ALERT_ID|PSEUDONYM")]
    pub target: String,
    /// Why the identity is needed (recorded in the audit log), e.g. "STR draft, case A-...".
    #[arg(long, value_name = "TEXT")]
    pub purpose: String,
    /// The run's output directory (with manifest.json, alerts.jsonl and reveal.map).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub run: PathBuf,
    /// Who is asking (default: the login name from $USER or $USERNAME).
    #[arg(long, value_name = "NAME")]
    pub analyst: Option<String>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// The audit log (default: audit.log in redflag's directory).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Draft a goAML suspicious transaction report (XML) from chosen alerts of a run: the
    /// header from the reporting entity's TOML, the alerts' evidence transactions (re-read from
    /// the run's inputs, which must be unchanged) with from/to parties, the reason drafted from
    /// the fired rules and their sources, and report_indicators mapped from rule ids through
    /// the FIU's codes. The draft is checked against goAML's element order and required fields
    /// before it is written. In a pseudonymous run every identity it holds is logged first to
    /// the audit log, with --purpose. Possible victims are refused as subjects.
    Goaml(GoamlArgs),
}

#[derive(Debug, Args)]
pub struct GoamlArgs {
    /// The run's output directory (manifest.json, alerts.jsonl).
    #[arg(long, value_name = "DIR")]
    pub alerts: PathBuf,
    /// Alert ids to report together (comma-separated), e.g. the alerts of one case.
    #[arg(long, value_name = "ID,...", value_delimiter = ',', required = true)]
    pub ids: Vec<String>,
    /// The reporting entity (TOML: rentity_id, submission_code, report_code,
    /// currency_code_local, institution_name, swift or institution_code, country, action,
    /// [reporting_person]); see the README.
    #[arg(long, value_name = "FILE")]
    pub entity: PathBuf,
    /// The FIU's lookup codes (TOML: [indicators] rule id -> code, [transmode] and [funds]
    /// channel -> code). Default: the built-in template (models/goaml/template.toml), whose
    /// placeholder codes an FIU will not accept; a warning says so.
    #[arg(long, value_name = "FILE")]
    pub fiu: Option<PathBuf>,
    /// Where to write the XML (atomically).
    #[arg(long, value_name = "FILE.xml")]
    pub out: PathBuf,
    /// Why identities are exported (recorded in the audit log).
    #[arg(long, value_name = "TEXT")]
    pub purpose: String,
    /// Who is exporting (default: the login name).
    #[arg(long, value_name = "NAME")]
    pub analyst: Option<String>,
    /// submission_date (YYYY-MM-DDThh:mm:ss; default: now).
    #[arg(long, value_name = "TS")]
    pub submission_date: Option<String>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// The audit log (default: audit.log in redflag's directory).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every line of the audit log against the hash chain. Exit status 0 when intact
    /// (the head hash is printed: record it elsewhere to detect lines cut off the end), 1 with
    /// the first broken line when a line was edited, deleted, inserted or moved.
    Verify {
        /// The audit log (default: audit.log in redflag's directory).
        #[arg(long, value_name = "FILE")]
        audit_log: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Print the feature catalogue (name, unit, window, indicators, meaning) and exit.
    #[arg(long, exclusive = true)]
    pub list: bool,
    #[command(flatten)]
    pub input: Option<InputArgs>,
    /// Where to write the table: Parquet, or CSV when the name ends in .csv (written under a
    /// temporary name, then renamed).
    #[arg(long, value_name = "FILE", required_unless_present = "list")]
    pub out: Option<PathBuf>,
    /// End of every window (RFC 3339, e.g. 2024-06-30T23:59:59Z). Default: the latest
    /// transaction time in the input.
    #[arg(long, value_name = "TS")]
    pub as_of: Option<String>,
    #[command(flatten)]
    pub reference: ReferenceArgs,
    /// Write rejected input records to this CSV file (as `redflag check --rejected`).
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Raw entity ids in the table (and record texts in --rejected) instead of pseudonyms.
    #[arg(long)]
    pub raw_ids: bool,
}

/// Reference lists and thresholds.
#[derive(Debug, Args)]
pub struct ReferenceArgs {
    /// Directory of reference lists (mcc_groups.toml, thresholds.toml, adsites.csv,
    /// short_term_rental.csv, payroll_processors.csv, corridors.csv); a file it lacks is taken
    /// from the built-in set in models/reference/. Rows past their review date are ignored with
    /// a warning.
    #[arg(long, value_name = "DIR")]
    pub reference_dir: Option<PathBuf>,
    /// Jurisdiction whose cash-reporting threshold applies (a key of thresholds.toml).
    #[arg(long, value_name = "CODE", default_value = "US")]
    pub jurisdiction: String,
    /// Cash-reporting threshold T in the base currency, instead of the jurisdiction's (needed
    /// when the base currency is not the threshold's currency).
    #[arg(long, value_name = "AMOUNT")]
    pub cash_threshold: Option<f64>,
}

/// Options shared by every command that reads transactions.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Transaction files, directories (every .csv, .csv.gz, .parquet, .ndjson below them) or
    /// quoted globs ("data/2024-*.csv").
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Mapping profile: a built-in name (canonical, amlworld, saml-d) or a TOML file.
    /// See `redflag mapping show canonical` for the format.
    #[arg(long, short = 'm', value_name = "PROFILE", default_value = "canonical")]
    pub mapping: String,
    /// FX rates file (CSV: date,currency,rate_to_base) used to compute amount_base; each row
    /// uses the latest rate on or before its date. Not needed when every amount is already in
    /// the base currency; otherwise rows without a rate are rejected (no_fx_rate).
    #[arg(long, value_name = "FILE")]
    pub rates: Option<PathBuf>,
    /// Base currency of amount_base (ISO 4217).
    #[arg(long, value_name = "CODE", default_value = "USD")]
    pub base_currency: String,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Print exactly one JSON object on stdout instead of the table:
    /// {"rows_read", "accepted", "rejected", "reasons", "files": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when any record is rejected.
    #[arg(long)]
    pub fail_on_rejects: bool,
    /// Write every rejected record (file, line, column, reason, detail, and with --raw-ids the
    /// record's text) to this CSV file. It is written under a temporary name and renamed when
    /// complete.
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<PathBuf>,
    /// Quote each rejected record's text in --rejected. Without it the record column is empty:
    /// records hold names, account ids, devices and IPs, and file and line find them.
    #[arg(long)]
    pub raw_ids: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A scores file: CSV with entity_id and risk (and entity_kind), such as the scores.csv
    /// of `redflag run`. Repeat to compare.
    #[arg(long, value_name = "SCORES.csv", required = true)]
    pub scores: Vec<PathBuf>,
    /// Labels: account_labels.csv or customer_labels.csv as `redflag synth` writes them, or
    /// any CSV with an id column and is_suspicious (typology and role optional).
    #[arg(long, value_name = "LABELS.csv")]
    pub labels: PathBuf,
    /// Which scored entities to rank: account (accounts, wallets, merchants) or customer.
    #[arg(long, value_enum, default_value_t = EvalKind::Account)]
    pub kind: EvalKind,
    /// The k of precision@k and recall@k (comma-separated).
    #[arg(
        long,
        value_name = "K,...",
        value_delimiter = ',',
        default_value = "50,100"
    )]
    pub k: Vec<usize>,
    /// Print JSON (one object per scores file, in a list) instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// The key of pseudonymous runs: when a scores file's manifest.json says its ids are
    /// pseudonyms, the label ids are pseudonymised with this key (default as for `run`) so
    /// that they match.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Entity kind for `redflag eval`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EvalKind {
    /// Accounts, wallets and merchants (everything but customers).
    Account,
    /// Customers.
    Customer,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Customers, case members included (about 1.3 transactions per customer per day).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub customers: u32,
    /// Days covered (60 to 3660; features compare the last 30 days with up to 180 before).
    #[arg(long, value_name = "D", default_value_t = 120)]
    pub days: u32,
    /// Seed of every random draw.
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,
    /// Output directory (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the transactions file.
    #[arg(long, value_enum, default_value_t = SynthFormat::Csv)]
    pub format: SynthFormat,
    /// First day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", default_value = "2024-01-01")]
    pub start: String,
    /// Planted cases, cycling through the 16 typologies (default: one per 250 customers, at
    /// least 16). The first case of each typology is clear; later ones vary in intensity and
    /// some are faint enough to stay under the thresholds.
    #[arg(long, value_name = "N")]
    pub cases: Option<u32>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Output format of `redflag synth`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SynthFormat {
    /// CSV with a header, RFC 3339 timestamps.
    Csv,
    /// Parquet with typed columns (Snappy).
    Parquet,
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// List the built-in profiles.
    List,
    /// Print a built-in profile (TOML), as a starting point for your own:
    /// `redflag mapping show canonical > mybank.toml`.
    Show {
        /// Profile name: canonical, amlworld or saml-d.
        name: String,
    },
}

/// `redflag cluster`: the processes of a Ballista cluster that runs redflag's work.
#[cfg(feature = "distributed")]
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// A Ballista scheduler (in memory, one per cluster). Stock `ballista-scheduler` 55 also
    /// works for the rules, but only this one knows the isolation forest's scoring function.
    /// Runs until interrupted.
    Scheduler {
        /// Address to listen on.
        #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50050")]
        bind: std::net::SocketAddr,
        /// Host name executors and clients reach this scheduler by (default: localhost, which
        /// only serves executors on this machine).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
    },
    /// A Ballista executor that registers with the scheduler and runs its tasks (rule
    /// conditions and the forest's scores over the staged feature table). Runs until
    /// interrupted.
    Executor {
        /// The scheduler.
        #[arg(long, value_name = "HOST:PORT", default_value = "localhost:50050")]
        scheduler: String,
        /// Address to listen on for the scheduler and for other executors' data requests.
        #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
        bind: String,
        /// Host name the scheduler and other executors reach this executor by (default: the
        /// bind address).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
        /// Port for data (Arrow Flight).
        #[arg(long, value_name = "PORT", default_value_t = 50051)]
        port: u16,
        /// Port for the scheduler's gRPC calls.
        #[arg(long, value_name = "PORT", default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (default: the number of cores).
        #[arg(long, value_name = "N")]
        concurrency: Option<usize>,
        /// Directory for shuffle files (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_counts_take_decimal_and_binary_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("6GiB"), Ok(6 << 30));
        assert_eq!(parse_bytes("6 gib"), Ok(6 << 30));
        assert_eq!(parse_bytes("8GB"), Ok(8_000_000_000));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        for bad in ["", "GiB", "6XB", "0", "-1GiB", "1e400"] {
            let err = parse_bytes(bad).expect_err(bad);
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
