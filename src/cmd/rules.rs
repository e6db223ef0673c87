//! `redflag rules`: list, check and explain rule packs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use redflag_rules::{RuleEngine, RulePack};
use serde_json::json;

use crate::cli::RulesCommand;

pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::List { pack, json } => {
            let engine = engine(pack.as_deref())?;
            let p = engine.pack();
            if !json {
                println!(
                    "{} {} ({} rules)",
                    p.pack.name,
                    p.pack.version,
                    p.rules.len()
                );
            }
            for r in engine.rules().iter().map(|c| &c.rule) {
                if json {
                    let line = json!({
                        "id": r.id, "name": r.name, "group": r.group, "severity": r.severity,
                        "weight": r.weight, "hard": r.hard, "enabled": r.enabled,
                        "role_hint": r.role_hint, "sources": r.sources,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{:<6} {:<36} {:<3} {:<7} {:>4.2}{}  {}",
                        r.id,
                        r.name,
                        r.group,
                        r.severity.as_str(),
                        r.weight,
                        if r.enabled { "" } else { " (disabled)" },
                        r.sources.join("; ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Check { file } => {
            let checked = RulePack::from_file(&file).and_then(RuleEngine::new);
            match checked {
                Ok(engine) => {
                    let p = engine.pack();
                    println!(
                        "{}: valid, {} {} with {} rules (policy: {} rules from {} groups{})",
                        file.display(),
                        p.pack.name,
                        p.pack.version,
                        p.rules.len(),
                        p.policy.min_rules,
                        p.policy.min_groups,
                        if p.policy.hard_alerts_alone {
                            ", or one hard match"
                        } else {
                            ""
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    eprintln!(
                        "{}: {} error(s); the pack was not loaded",
                        file.display(),
                        errors.len()
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
        RulesCommand::Explain { id, pack } => {
            let engine = engine(pack.as_deref())?;
            let Some(c) = engine
                .rules()
                .iter()
                .find(|c| c.rule.id.eq_ignore_ascii_case(&id))
            else {
                bail!(
                    "no rule {id} in {} (see `redflag rules list`)",
                    engine.pack().pack.name
                );
            };
            let r = &c.rule;
            println!("{} {} [{}] {}", r.id, r.name, r.group, r.typology);
            println!(
                "severity  {}{}, weight {}",
                r.severity.as_str(),
                if r.hard { ", hard (alerts alone)" } else { "" },
                r.weight
            );
            println!("when      {}", r.when);
            for t in &c.when.thresholds {
                println!("          {} {} {}", t.column, t.op, t.value);
            }
            if let Some(e) = &r.escalate_when {
                println!("escalate  {e}");
            }
            println!("reason    {}", r.reason);
            if let Some(h) = r.role_hint {
                println!("role      {}", h.as_str());
            }
            if !r.applies_to.is_empty() {
                println!("applies   {}", r.applies_to.join(", "));
            }
            for s in &r.sources {
                println!("source    {s}");
            }
            println!("features  {}", c.when.columns.join(", "));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The named pack, or the built-in one, checked.
pub fn engine(pack: Option<&Path>) -> Result<RuleEngine> {
    let pack = match pack {
        Some(p) => RulePack::from_file(p),
        None => Ok(RulePack::builtin()),
    };
    pack.and_then(RuleEngine::new).map_err(|errors| {
        anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}
