//! `redflag reveal` and `redflag audit`, and the key every pseudonymous command uses.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use redflag::privacy::{self, Key, RevealRequest};

use crate::cli::{AuditCommand, GoamlArgs, KeyArgs, RevealArgs};

/// The key named by `--key-file`, `$REDFLAG_KEY_FILE` or redflag's directory; created there on
/// first use when `create` (with a note on stderr).
pub fn key(args: &KeyArgs, create: bool) -> Result<Key> {
    let path = privacy::key_path(args.key_file.as_deref())?;
    if !create || args.key_file.is_some() {
        return Ok(Key::load(&path)?);
    }
    let (key, created) = Key::load_or_create(&path)?;
    if created {
        eprintln!(
            "redflag: created the pseudonymisation key {} (mode 0600, fingerprint {}); keep it \
             safe: without it pseudonyms cannot be revealed",
            path.display(),
            key.fingerprint()
        );
    }
    Ok(key)
}

pub fn export_goaml(args: GoamlArgs) -> Result<ExitCode> {
    use redflag::goaml::{self, ExportRequest, FiuMapping, ReportingEntity, TEMPLATE_MAPPING};
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let entity = ReportingEntity::parse(&read(&args.entity)?, &args.entity.display().to_string())?;
    let fiu = match &args.fiu {
        Some(p) => FiuMapping::parse(&read(p)?, &p.display().to_string())?,
        None => FiuMapping::parse(TEMPLATE_MAPPING, "built-in template")?,
    };
    if fiu.fiu == "template" {
        eprintln!(
            "redflag: warning: the indicator, transmode and funds codes are the built-in \
             template's placeholders; give your FIU's codes with --fiu FILE before filing"
        );
    }
    // The key only matters for pseudonymous runs; a missing key file is then an error.
    let key = key(&args.key, false).ok();
    let log = privacy::audit_log_path(args.audit_log.as_deref())?;
    let who = args.analyst.clone().unwrap_or_else(login);
    let got = goaml::export(
        &ExportRequest {
            run_dir: &args.alerts,
            alert_ids: &args.ids,
            entity: &entity,
            fiu: &fiu,
            key: key.as_ref(),
            purpose: &args.purpose,
            who: &who,
            log: &log,
            submission_date: args.submission_date.clone(),
        },
        &args.out,
    )
    .context("redflag export goaml")?;
    println!(
        "wrote {}: {} {} with {} transactions and {} indicators{}",
        args.out.display(),
        entity.report_code,
        args.ids.join(","),
        got.transactions,
        got.report
            .child("report_indicators")
            .map_or(0, |n| n.children.len()),
        if got.logged > 0 {
            format!("; {} identities logged to {}", got.logged, log.display())
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The login name, for the audit log.
fn login() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

pub fn reveal(args: RevealArgs) -> Result<ExitCode> {
    let key = key(&args.key, false)?;
    let log = privacy::audit_log_path(args.audit_log.as_deref())?;
    let who = args.analyst.clone().unwrap_or_else(login);
    let got = privacy::reveal(
        &RevealRequest {
            target: &args.target,
            run_dir: &args.run,
            purpose: &args.purpose,
            who: &who,
            log: &log,
        },
        &key,
    )
    .with_context(|| format!("revealing {}", args.target))?;
    println!("{}", got.raw_id);
    eprintln!(
        "redflag: revealed {}{} for {who}; logged as line {} of {} (hash {})",
        got.pseudonym,
        got.entity_kind
            .as_deref()
            .map(|k| format!(" ({k})"))
            .unwrap_or_default(),
        got.log_seq,
        log.display(),
        &got.log_hash[..16]
    );
    Ok(ExitCode::SUCCESS)
}

pub fn audit(cmd: AuditCommand) -> Result<ExitCode> {
    let AuditCommand::Verify { audit_log } = cmd;
    let log = privacy::audit_log_path(audit_log.as_deref())?;
    let status = privacy::verify_log(&log)?;
    match status.problem {
        None => {
            println!(
                "{}: intact, {} entries, head {}",
                log.display(),
                status.lines,
                status.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!(
                "{}: BROKEN at {problem}; the {} entries before it are intact (head {})",
                log.display(),
                status.lines,
                status.head
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// For `redflag eval`: the key when the scores file is a run's `scores.csv` and the run (its
/// manifest.json next to it) is pseudonymous, checked against the fingerprint the manifest
/// records.
pub fn key_for_scores(scores: &Path, args: &KeyArgs) -> Result<Option<Key>> {
    if scores.file_name().is_none_or(|n| n != "scores.csv") {
        return Ok(None);
    }
    let manifest = scores.with_file_name("manifest.json");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(None);
    };
    let m: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("reading {}", manifest.display()))?;
    if m["ids"]["mode"] != "pseudonymous" {
        return Ok(None);
    }
    let key = key(args, false).with_context(|| {
        format!(
            "{} holds pseudonyms; the labels need the run's key",
            scores.display()
        )
    })?;
    let want = m["ids"]["key_fingerprint"].as_str().unwrap_or_default();
    anyhow::ensure!(
        key.fingerprint() == want,
        "{} was written under key {want}; this key is {} (give the run's key with --key-file)",
        scores.display(),
        key.fingerprint()
    );
    Ok(Some(key))
}
