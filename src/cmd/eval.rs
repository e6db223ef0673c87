//! `redflag eval`: detection quality of one or more scores files against labels.

use std::process::ExitCode;

use anyhow::{Result, bail};
use redflag::eval::{Evaluation, Kind, Label, Metrics, evaluate, read_labels, read_scores};

use crate::cli::{EvalArgs, EvalKind};

impl From<EvalKind> for Kind {
    fn from(k: EvalKind) -> Kind {
        match k {
            EvalKind::Account => Kind::Account,
            EvalKind::Customer => Kind::Customer,
        }
    }
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    if args.k.is_empty() || args.k.contains(&0) {
        bail!("--k takes positive numbers, e.g. --k 50,100");
    }
    let labels = read_labels(&args.labels)?;
    if !labels.iter().any(|l| l.suspicious) {
        bail!(
            "{}: no entity has is_suspicious = 1; nothing to find",
            args.labels.display()
        );
    }
    let mut evals = Vec::new();
    for path in &args.scores {
        let scores = read_scores(path, args.kind.into())?;
        let labels = match super::privacy::key_for_scores(path, &args.key)? {
            Some(key) => labels
                .iter()
                .map(|l| Label {
                    id: key.pseudonym(&l.id),
                    ..l.clone()
                })
                .collect(),
            None => labels.clone(),
        };
        evals.push(evaluate(
            &path.display().to_string(),
            &scores,
            &labels,
            &args.k,
        ));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evals)?);
    } else {
        print_tables(&evals, &args.k);
    }
    Ok(ExitCode::SUCCESS)
}

fn fmt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

fn print_tables(evals: &[Evaluation], ks: &[usize]) {
    for (i, e) in evals.iter().enumerate() {
        println!(
            "[{}] {}: {} labelled, {} positive, {} not scored (ranked last)",
            i + 1,
            e.scores,
            e.overall.n,
            e.overall.positives,
            e.unscored
        );
    }
    let mut head = format!("{:<28} {:>5} {:>4} {:>4}", "group", "n", "pos", "src");
    head.push_str(&format!(" {:>7} {:>7}", "ROC-AUC", "PR-AUC"));
    for k in ks {
        head.push_str(&format!(" {:>7} {:>7}", format!("P@{k}"), format!("R@{k}")));
    }
    println!("\n{head}");
    let row = |name: &str, pick: &dyn Fn(&Evaluation) -> Option<&Metrics>| {
        for (i, e) in evals.iter().enumerate() {
            let Some(m) = pick(e) else { continue };
            let mut line = format!(
                "{:<28} {:>5} {:>4} {:>4} {:>7} {:>7}",
                if i == 0 { name } else { "" },
                m.n,
                m.positives,
                format!("[{}]", i + 1),
                fmt(m.roc_auc),
                fmt(m.pr_auc)
            );
            for k in ks {
                line.push_str(&format!(
                    " {:>7.3} {:>7.3}",
                    m.precision_at.get(k).copied().unwrap_or_default(),
                    m.recall_at.get(k).copied().unwrap_or_default()
                ));
            }
            println!("{line}");
        }
    };
    row("overall", &|e| Some(&e.overall));
    let first = &evals[0];
    for role in first.by_role.keys() {
        row(&format!("role {role}"), &|e| e.by_role.get(role));
    }
    for t in first.by_typology.keys() {
        row(&format!("typology {t}"), &|e| e.by_typology.get(t));
    }
}
