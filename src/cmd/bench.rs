//! `redflag bench`: time stages on the user's files.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use redflag_features::FeatureConfig;
use redflag_io::{DiscardRejects, IngestOptions, expand_inputs, ingest_files};
use serde_json::json;

use crate::cli::BenchCommand;

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Ingest { input } => {
            let (profile, rates) = super::load_input_config(&input)?;
            let files = expand_inputs(&input.inputs)?;
            let opts = IngestOptions::new(profile, rates);
            let start = Instant::now();
            let got = ingest_files(&files, &opts, &mut DiscardRejects)?;
            let seconds = start.elapsed().as_secs_f64();
            let arrow_bytes = got.memory_size();
            let peak = peak_rss_bytes();
            let line = json!({
                "stage": "ingest",
                "inputs": files.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>(),
                "threads": rayon::current_num_threads(),
                "rows_read": got.report.rows_read,
                "accepted": got.report.accepted,
                "rejected": got.report.rejected,
                "seconds": seconds,
                "rows_per_s": got.report.rows_read as f64 / seconds.max(1e-9),
                "arrow_bytes": arrow_bytes,
                "peak_rss_bytes": peak,
                "peak_over_arrow": peak.map(|p| p as f64 / arrow_bytes.max(1) as f64),
            });
            println!("{line}");
        }
        BenchCommand::Features { input } => {
            let start = Instant::now();
            let got = super::features::load(&input, None, true)?;
            let ingest = start.elapsed().as_secs_f64();
            let rows = got.num_rows();
            let clock = Instant::now();
            // As `redflag run` does: the pass takes the table and lets each column go once read.
            let (f, _) =
                redflag_features::compute_owned(got.batches, &[], &FeatureConfig::default())?;
            let features = clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            let engine = super::rules::engine(None)?;
            let compile = clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            let ev = engine.evaluate(&f.batch)?;
            let rules = clock.elapsed().as_secs_f64();
            let t = &f.timings;
            let mut by_rule: std::collections::BTreeMap<&str, usize> = Default::default();
            for h in &ev.hits {
                *by_rule
                    .entry(engine.rules()[h.rule].rule.id.as_str())
                    .or_default() += 1;
            }
            let line = json!({
                "stage": "features",
                "hits_by_rule": by_rule,
                "threads": rayon::current_num_threads(),
                "rows": rows,
                "entities": f.batch.num_rows(),
                "columns": f.batch.num_columns(),
                "ingest_seconds": ingest,
                "features_seconds": features,
                "total_seconds": ingest + features,
                "prepare": t.prepare,
                "index": t.index,
                "entity": t.entity,
                "graph": t.graph,
                "finish": t.finish,
                "rules_compile_seconds": compile,
                "rules_seconds": rules,
                "rules": engine.rules().len(),
                "rule_hits": ev.hits.len(),
                "alerted": ev.alerted.iter().filter(|a| **a).count(),
                "peak_rss_bytes": peak_rss_bytes(),
            });
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Peak resident set size of this process (Linux `VmHWM`), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
