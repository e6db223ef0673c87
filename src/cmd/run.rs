//! `redflag run`: the whole job, into an output directory.

use std::process::ExitCode;

use anyhow::{Context, Result};
use redflag::Engine;

use crate::cli::{InjectArgs, RunArgs, TuneArgs};

/// The engine that `redflag run` builds from its options.
fn engine(args: &RunArgs) -> Result<Engine> {
    let input = &args.input;
    let mut engine = Engine::new(input.inputs.iter().cloned())
        .mapping(input.mapping.clone())
        .base_currency(input.base_currency.clone())
        .jurisdiction(args.reference.jurisdiction.clone())
        .seed(args.seed)
        .out_dir(args.out.clone());
    if !args.raw_ids {
        engine = engine.pseudonymize(super::privacy::key(&args.key, true)?);
    }
    if let Some(p) = &input.rates {
        engine = engine.rates_file(p);
    }
    if let Some(p) = &args.rules {
        engine = engine.rule_pack(p);
    }
    if let Some(p) = &args.model {
        engine = engine.model_file(p);
    }
    if let Some(d) = &args.reference.reference_dir {
        engine = engine.reference_dir(d);
    }
    if let Some(t) = args.reference.cash_threshold {
        engine = engine.cash_threshold(t);
    }
    if let Some(k) = args.budget {
        engine = engine.budget(k);
    }
    if let Some(n) = args.max_per_case {
        engine = engine.max_per_case(n);
    }
    if let Some(text) = &args.as_of {
        engine = engine.as_of(super::features::parse_as_of(text)?);
    }
    if let Some(url) = &args.cluster {
        engine = engine.cluster(url);
    }
    if let Some(d) = &args.cluster_staging {
        engine = engine.cluster_staging(d);
    }
    if let Some(bytes) = args.memory_limit {
        engine = engine.memory_limit(bytes);
    }
    if let Some(d) = &args.spill_dir {
        engine = engine.spill_dir(d);
    }
    Ok(engine)
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let engine = engine(&args)?;
    let progress = crate::progress::Progress::start(!args.no_progress);
    let set = engine.on_stage(progress.hook()).run();
    drop(progress);
    let set = set?;
    let m = &set.manifest;
    let see = args.out.join("rejected.csv").display().to_string();
    for line in super::rejected_summary(&m.ingest, &see) {
        eprintln!("{line}");
    }
    for w in &m.fairness.warnings {
        eprintln!("redflag: fairness: {w}");
    }
    println!(
        "{} transactions, {} entities scored as of {}: {} alerts",
        m.ingest.accepted, m.entities, m.as_of, m.alerts
    );
    println!(
        "{:>4}  {:<18} {:<9} {:>6}  {:<19} reasons",
        "rank", "entity", "kind", "risk", "role"
    );
    for a in set.alerts.iter().take(10) {
        let rules: Vec<&str> = a.reasons.iter().map(|r| r.rule_id.as_str()).collect();
        println!(
            "{:>4}  {:<18} {:<9} {:>6.3}  {:<19} {}",
            a.rank,
            a.entity_id,
            a.entity_kind,
            a.risk,
            a.role_hint,
            if a.anomaly_only {
                "anomaly only".to_owned()
            } else {
                rules.join(" ")
            }
        );
    }
    println!(
        "wrote {}/{{alerts.jsonl,alerts.csv,alerts.parquet,scores.csv,report.html,rejected.csv,manifest.json{}}}",
        args.out.display(),
        if set.pseudonyms.is_some() {
            ",reveal.map"
        } else {
            ""
        }
    );
    if let Some(p) = &set.pseudonyms {
        println!(
            "identifiers are pseudonyms under key {}; `redflag reveal ALERT_ID --run {} --purpose ...` maps one back (logged)",
            p.key().fingerprint(),
            args.out.display()
        );
    }
    // The process exits next and the OS takes the memory back at once; freeing the scores,
    // alerts and flows allocation by allocation first would add a tenth of a second at 10M
    // transactions. Nothing in the set needs its destructor run: the files are written.
    std::mem::forget(set);
    Ok(ExitCode::SUCCESS)
}

pub fn inject(args: InjectArgs) -> Result<ExitCode> {
    use redflag::inject::{InjectParams, inject};
    let typologies = args
        .typologies
        .iter()
        .map(|t| {
            redflag_synth::Typology::from_name(t)
                .with_context(|| format!("--typologies: no typology {t:?} (see --help)"))
        })
        .collect::<Result<Vec<_>>>()?;
    let engine = engine(&args.run)?;
    let progress = crate::progress::Progress::start(!args.run.no_progress);
    let got = inject(
        &engine.on_stage(progress.hook()),
        &InjectParams {
            cases: args.cases,
            typologies,
            seed: args.run.seed,
        },
    );
    drop(progress);
    let (_, report) = got.context("redflag inject")?;
    println!(
        "planted {} cases ({} rows, wired to {} real accounts and parties) into {} rows; {} alerts{}",
        report.cases,
        report.planted_rows,
        report.real_counterparties,
        report.real_rows,
        report.alerts,
        report
            .budget
            .map(|b| format!(" (budget {b})"))
            .unwrap_or_default()
    );
    println!(
        "{:<28} {:>8} {:>8} {:>7}",
        "group", "planted", "alerted", "recall"
    );
    for r in &report.recall {
        println!(
            "{:<28} {:>8} {:>8} {:>7.3}",
            r.group, r.planted, r.alerted, r.recall
        );
    }
    println!(
        "wrote {}/{{inject.json,inject.csv}} and the run's outputs",
        args.run.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn tune(args: TuneArgs) -> Result<ExitCode> {
    let labels = match &args.labels {
        Some(p) => Some(
            redflag::eval::read_labels(p)?
                .into_iter()
                .map(|l| (l.id, l.suspicious))
                .collect::<std::collections::BTreeMap<_, _>>(),
        ),
        None => None,
    };
    let engine = engine(&args.run)?;
    let report = redflag::tune::tune(&engine, labels.as_ref()).context("redflag tune")?;
    report.write(&args.run.out).context("redflag tune")?;
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    println!(
        "{} entities{}; alert policy now:",
        report.entities,
        report
            .positives
            .map(|p| format!(", {p} labelled positive"))
            .unwrap_or_default()
    );
    for p in report.policies.iter().filter(|p| p.current) {
        println!(
            "  {} rules in {} groups{}: {} alerts, precision {}, recall {}",
            p.min_rules,
            p.min_groups,
            if p.hard_alerts_alone {
                ", or one hard rule"
            } else {
                ""
            },
            p.alerts,
            f(p.precision),
            f(p.recall)
        );
    }
    println!(
        "wrote {}/{{tune.html,tune_rules.csv,tune_policy.csv,below_the_line.csv,tune.json}} ({} below-the-line entities)",
        args.run.out.display(),
        report.below_the_line.len()
    );
    Ok(ExitCode::SUCCESS)
}
