//! `redflag features`: the entity feature table, for inspection.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use arrow::array::{AsArray, RecordBatch};
use parquet::arrow::ArrowWriter;
use redflag_features::{CATALOG, EntityFeatures, FeatureConfig, compute_owned};
use redflag_io::{
    AtomicFile, DiscardRejects, IngestOptions, Ingested, RejectCsvWriter, TimestampParser, Zone,
    expand_inputs, ingest_files,
};

use crate::cli::{FeaturesArgs, InputArgs, ReferenceArgs};

pub fn run(args: FeaturesArgs) -> Result<ExitCode> {
    if args.list {
        print_catalog()?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(input), Some(out)) = (&args.input, &args.out) else {
        bail!("give INPUT... and --out FILE, or --list");
    };
    let mut cfg = feature_config(&args.reference, &input.base_currency)?;
    if let Some(text) = &args.as_of {
        cfg.as_of = Some(parse_as_of(text)?);
    }
    let key = if args.raw_ids {
        None
    } else {
        Some(super::privacy::key(&args.key, true)?)
    };
    let ingested = load(input, args.rejected.as_deref(), key.is_some())?;
    let transactions = ingested.num_rows();
    // The table goes to the feature pass, which lets each column go once read.
    let (mut features, _) =
        compute_owned(ingested.batches, &[], &cfg).context("computing entity features")?;
    drop(std::mem::take(&mut features.ledger));
    let table = match &key {
        Some(k) => pseudonymize(&features.batch, k)?,
        None => features.batch.clone(),
    };
    write_table(out, &table)?;
    summarise(transactions, &features, out);
    Ok(ExitCode::SUCCESS)
}

/// The feature settings the reference lists give, with `--cash-threshold` applied.
pub fn feature_config(args: &ReferenceArgs, base_currency: &str) -> Result<FeatureConfig> {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (cfg, reference) = redflag::feature_config(
        args.reference_dir.as_deref(),
        &today,
        &args.jurisdiction,
        base_currency,
        args.cash_threshold,
    )
    .map_err(|e| anyhow::anyhow!("{e} (--cash-threshold)"))?;
    for w in &reference.warnings {
        eprintln!("redflag: warning: {w}");
    }
    Ok(cfg)
}

/// Parses `--as-of`: RFC 3339, a naive time (UTC) or a date (end of that day is not implied:
/// a date means 00:00 UTC).
pub fn parse_as_of(text: &str) -> Result<i64> {
    let zone = Zone::parse("UTC").context("the UTC zone")?;
    TimestampParser::iso(zone)
        .parse(text)
        .map_err(|e| anyhow::anyhow!("--as-of {text:?}: {}", e.detail))
}

/// The table with `entity_id` replaced by its keyed pseudonym.
fn pseudonymize(table: &RecordBatch, key: &redflag::privacy::Key) -> Result<RecordBatch> {
    let ids = table.column(0).as_string::<i32>();
    let p: arrow::array::StringArray = ids.iter().map(|v| v.map(|v| key.pseudonym(v))).collect();
    let mut columns = table.columns().to_vec();
    columns[0] = std::sync::Arc::new(p);
    Ok(RecordBatch::try_new(table.schema(), columns)?)
}

/// Reads and validates the inputs, keeping the accepted rows; rejected records go to
/// `rejected` when given (their text withheld with `withhold`).
pub fn load(input: &InputArgs, rejected: Option<&Path>, withhold: bool) -> Result<Ingested> {
    let (profile, rates) = super::load_input_config(input)?;
    let files = expand_inputs(&input.inputs)?;
    let opts = IngestOptions::new(profile, rates);
    let got = match rejected {
        Some(path) => {
            let mut sink = RejectCsvWriter::create(path)?.withhold_records(withhold);
            let got = ingest_files(&files, &opts, &mut sink)?;
            sink.finish()?;
            got
        }
        None => ingest_files(&files, &opts, &mut DiscardRejects)?,
    };
    let see = rejected.map_or("`redflag check`".to_owned(), |p| p.display().to_string());
    for line in super::rejected_summary(&got.report, &see) {
        eprintln!("{line}");
    }
    Ok(got)
}

/// Writes a table atomically: CSV when the name ends in `.csv`, Parquet otherwise.
pub fn write_table(out: &Path, batch: &RecordBatch) -> Result<()> {
    let mut file = AtomicFile::create(out)?;
    let is_csv = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut file);
        w.write(batch)?;
    } else {
        let mut w = ArrowWriter::try_new(&mut file, batch.schema(), None)?;
        w.write(batch)?;
        w.close()?;
    }
    file.commit()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

fn print_catalog() -> Result<()> {
    let mut text = format!(
        "{:<34}  {:<10}  {:<18}  {:<16}  meaning\n",
        "feature", "unit", "window", "indicators"
    );
    for d in CATALOG {
        text.push_str(&format!(
            "{:<34}  {:<10}  {:<18}  {:<16}  {}\n",
            d.name,
            d.unit.as_str(),
            d.window,
            d.indicators,
            d.meaning
        ));
    }
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn summarise(transactions: usize, f: &EntityFeatures, out: &Path) {
    let kinds = f.batch.column(1).as_string::<i32>();
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for k in kinds.iter().flatten() {
        *counts.entry(k).or_default() += 1;
    }
    let as_of = chrono::DateTime::from_timestamp_micros(f.as_of)
        .map_or_else(|| f.as_of.to_string(), |t| t.to_rfc3339());
    println!(
        "{transactions} transactions -> {} entities ({}) as of {as_of}",
        f.batch.num_rows(),
        counts
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("wrote {}", out.display());
}
