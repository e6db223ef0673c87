//! Detection quality against labels: ROC-AUC, PR-AUC (average precision), precision@k and
//! recall@k, overall, per role and per typology.
//!
//! The scores file is any CSV with `entity_id` and `risk` columns (and optionally
//! `entity_kind`): redflag's `scores.csv`, or a baseline's. The labels file is
//! `account_labels.csv` or `customer_labels.csv` as `redflag synth` writes them (first column
//! the id, then `is_suspicious` and optionally `typology` and `role`), or any file with an id
//! column and `is_suspicious`.
//!
//! The population is the labelled entities. A labelled entity the scores file lacks ranks last
//! (a detector that never scored it did not find it); scored entities without a label are
//! ignored. Ranks sort by risk, highest first, ties by entity id. A per-role or per-typology
//! figure ranks that group's positives against every negative (look-alikes and ordinary
//! entities), leaving the other positives out.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::{Error, Result};

/// One labelled entity.
#[derive(Debug, Clone)]
pub struct Label {
    /// Entity id (account, wallet, customer, ...).
    pub id: String,
    /// 1 in the labels file.
    pub suspicious: bool,
    /// Planted typology, or the look-alike kind; may be empty.
    pub typology: String,
    /// `controller`, `victim`, `front_business`, `benign_lookalike`, `normal`; may be empty.
    pub role: String,
}

/// Quality figures of one ranking on one population.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    /// Entities ranked (positives and negatives).
    pub n: usize,
    /// Positives among them.
    pub positives: usize,
    /// Area under the ROC curve (ties count half); null without positives or negatives.
    pub roc_auc: Option<f64>,
    /// Average precision: the mean, over positives, of the precision at each one's rank.
    pub pr_auc: Option<f64>,
    /// Precision among the top k, per k.
    pub precision_at: BTreeMap<usize, f64>,
    /// Share of positives among the top k, per k.
    pub recall_at: BTreeMap<usize, f64>,
}

/// An evaluation: overall, per role and per typology.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The scores file.
    pub scores: String,
    /// Labelled entities the scores file did not have (ranked last).
    pub unscored: usize,
    /// Every labelled entity.
    pub overall: Metrics,
    /// Positives of each role against all negatives.
    pub by_role: BTreeMap<String, Metrics>,
    /// Positives of each typology against all negatives.
    pub by_typology: BTreeMap<String, Metrics>,
}

fn bad(path: &Path, line: usize, msg: impl Into<String>) -> Error {
    Error::Input(format!("{}: line {line}: {}", path.display(), msg.into()))
}

/// Splits one CSV record (quotes as RFC 4180, no embedded line breaks).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// A CSV file's records with their 1-based line numbers.
type Records = Vec<(usize, Vec<String>)>;

/// Reads a CSV file into its header and records.
fn read_csv(path: &Path) -> Result<(Vec<String>, Records)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((_, head)) = lines.next() else {
        return Err(bad(path, 1, "empty file: expected a header"));
    };
    let header: Vec<String> = fields(head.trim_start_matches('\u{feff}'))
        .into_iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (i, l) in lines {
        let f = fields(l.trim_end_matches('\r'));
        if f.len() != header.len() {
            return Err(bad(
                path,
                i + 1,
                format!(
                    "{} fields, expected {} as in the header",
                    f.len(),
                    header.len()
                ),
            ));
        }
        rows.push((i + 1, f));
    }
    Ok((header, rows))
}

fn column(path: &Path, header: &[String], names: &[&str]) -> Result<usize> {
    header
        .iter()
        .position(|h| names.contains(&h.as_str()))
        .ok_or_else(|| {
            Error::Input(format!(
                "{}: no column {} in the header ({})",
                path.display(),
                names.join(" or "),
                header.join(",")
            ))
        })
}

/// Reads a labels file (`account_labels.csv`, `customer_labels.csv` or the like).
pub fn read_labels(path: &Path) -> Result<Vec<Label>> {
    let (header, rows) = read_csv(path)?;
    let id = column(path, &header, &["account", "customer", "entity_id", "id"])?;
    let susp = column(path, &header, &["is_suspicious", "is_laundering", "label"])?;
    let typ = header.iter().position(|h| h == "typology");
    let role = header.iter().position(|h| h == "role");
    rows.into_iter()
        .map(|(line, f)| {
            let suspicious = match f[susp].trim() {
                "1" | "true" => true,
                "0" | "false" => false,
                v => {
                    return Err(bad(
                        path,
                        line,
                        format!("{} is {v:?}, expected 0 or 1", header[susp]),
                    ));
                }
            };
            Ok(Label {
                id: f[id].clone(),
                suspicious,
                typology: typ.map(|i| f[i].clone()).unwrap_or_default(),
                role: role.map(|i| f[i].clone()).unwrap_or_default(),
            })
        })
        .collect()
}

/// Which scored entities an evaluation considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Everything but customers (accounts, wallets, merchants).
    Account,
    /// Customers only.
    Customer,
}

/// Reads a scores file: entity id -> risk, for the entities of `kind` (rows without an
/// `entity_kind` column all count).
pub fn read_scores(path: &Path, kind: Kind) -> Result<HashMap<String, f64>> {
    let (header, rows) = read_csv(path)?;
    let id = column(path, &header, &["entity_id", "account", "id"])?;
    let risk = column(path, &header, &["risk", "score"])?;
    let ek = header.iter().position(|h| h == "entity_kind");
    let mut out = HashMap::with_capacity(rows.len());
    for (line, f) in rows {
        if let Some(k) = ek {
            let customer = f[k] == "customer";
            if customer != (kind == Kind::Customer) {
                continue;
            }
        }
        let r: f64 = f[risk]
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite())
            .ok_or_else(|| {
                bad(
                    path,
                    line,
                    format!("{} {:?} is not a finite number", header[risk], f[risk]),
                )
            })?;
        out.insert(f[id].clone(), r);
    }
    Ok(out)
}

/// The figures of a ranking: `ranked` is (positive, risk) in rank order (best first).
fn metrics(ranked: &[(bool, f64)], ks: &[usize]) -> Metrics {
    let n = ranked.len();
    let positives = ranked.iter().filter(|(p, _)| *p).count();
    let negatives = n - positives;
    // Average precision.
    let mut hits = 0usize;
    let mut ap = 0.0;
    for (i, (p, _)) in ranked.iter().enumerate() {
        if *p {
            hits += 1;
            ap += hits as f64 / (i + 1) as f64;
        }
    }
    // ROC-AUC by Mann-Whitney, ties sharing the average rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && ranked[j].1 == ranked[i].1 {
            j += 1;
        }
        // Ranks counted from the bottom: positions i..j share the mean of n-i .. n-j+1.
        let mean_rank = (2 * n - i - j + 1) as f64 / 2.0;
        rank_sum += mean_rank * ranked[i..j].iter().filter(|(p, _)| *p).count() as f64;
        i = j;
    }
    let both = positives > 0 && negatives > 0;
    let roc = both.then(|| {
        let u = rank_sum - (positives * (positives + 1)) as f64 / 2.0;
        u / (positives as f64 * negatives as f64)
    });
    let mut precision_at = BTreeMap::new();
    let mut recall_at = BTreeMap::new();
    for &k in ks {
        let top = ranked.iter().take(k).filter(|(p, _)| *p).count();
        precision_at.insert(
            k,
            if n == 0 {
                0.0
            } else {
                top as f64 / k.min(n) as f64
            },
        );
        recall_at.insert(
            k,
            if positives == 0 {
                0.0
            } else {
                top as f64 / positives as f64
            },
        );
    }
    Metrics {
        n,
        positives,
        roc_auc: roc,
        pr_auc: (positives > 0).then_some(ap / positives.max(1) as f64),
        precision_at,
        recall_at,
    }
}

/// Evaluates `scores` (id -> risk) against `labels`, with precision and recall at each of
/// `ks`.
pub fn evaluate(
    scores_name: &str,
    scores: &HashMap<String, f64>,
    labels: &[Label],
    ks: &[usize],
) -> Evaluation {
    // Rank every labelled entity once: risk descending (unscored last), then id.
    let mut order: Vec<(&Label, f64)> = labels
        .iter()
        .map(|l| (l, scores.get(&l.id).copied().unwrap_or(f64::NEG_INFINITY)))
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));
    let unscored = order
        .iter()
        .filter(|(_, r)| *r == f64::NEG_INFINITY)
        .count();
    let rank_of = |keep: &dyn Fn(&Label) -> Option<bool>| -> Metrics {
        let ranked: Vec<(bool, f64)> = order
            .iter()
            .filter_map(|(l, r)| keep(l).map(|p| (p, *r)))
            .collect();
        metrics(&ranked, ks)
    };
    let overall = rank_of(&|l| Some(l.suspicious));
    let group = |field: &dyn Fn(&Label) -> &str| -> BTreeMap<String, Metrics> {
        let names: std::collections::BTreeSet<&str> = labels
            .iter()
            .filter(|l| l.suspicious && !field(l).is_empty())
            .map(field)
            .collect();
        names
            .into_iter()
            .map(|name| {
                let m = rank_of(&|l| {
                    if !l.suspicious {
                        Some(false)
                    } else {
                        (field(l) == name).then_some(true)
                    }
                });
                (name.to_owned(), m)
            })
            .collect()
    };
    Evaluation {
        scores: scores_name.to_owned(),
        unscored,
        overall,
        by_role: group(&|l| l.role.as_str()),
        by_typology: group(&|l| l.typology.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(spec: &[(&str, bool, &str)]) -> Vec<Label> {
        spec.iter()
            .map(|(id, s, t)| Label {
                id: (*id).into(),
                suspicious: *s,
                typology: (*t).into(),
                role: if *s {
                    "controller".into()
                } else {
                    "normal".into()
                },
            })
            .collect()
    }

    #[test]
    fn perfect_and_reversed_rankings() {
        let l = labels(&[
            ("a", true, "x"),
            ("b", true, "y"),
            ("c", false, ""),
            ("d", false, ""),
        ]);
        let good: HashMap<String, f64> = [("a", 0.9), ("b", 0.8), ("c", 0.2), ("d", 0.1)]
            .map(|(k, v)| (k.into(), v))
            .into();
        let e = evaluate("s", &good, &l, &[1, 2]);
        assert_eq!(e.overall.roc_auc, Some(1.0));
        assert_eq!(e.overall.pr_auc, Some(1.0));
        assert_eq!(e.overall.precision_at[&2], 1.0);
        assert_eq!(e.overall.recall_at[&1], 0.5);
        let bad: HashMap<String, f64> = good.iter().map(|(k, v)| (k.clone(), -v)).collect();
        let e = evaluate("s", &bad, &l, &[2]);
        assert_eq!(e.overall.roc_auc, Some(0.0));
        // Positives at ranks 3 and 4: (1/3 + 2/4) / 2.
        let ap = e.overall.pr_auc.unwrap_or_default();
        assert!((ap - (1.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert_eq!(e.overall.precision_at[&2], 0.0);
        // Per typology: x alone against the two negatives.
        assert_eq!(e.by_typology["x"].n, 3);
        assert_eq!(e.by_typology["x"].positives, 1);
    }

    #[test]
    fn ties_count_half_and_unscored_rank_last() {
        let l = labels(&[("a", true, "x"), ("b", false, ""), ("c", false, "")]);
        let tied: HashMap<String, f64> =
            [("a", 0.5), ("b", 0.5)].map(|(k, v)| (k.into(), v)).into();
        let e = evaluate("s", &tied, &l, &[1]);
        // a ties b (half) and beats the unscored c: (0.5 + 1) / 2.
        assert_eq!(e.overall.roc_auc, Some(0.75));
        assert_eq!(e.unscored, 1);
    }

    #[test]
    fn quoted_fields_split_as_csv() {
        assert_eq!(fields(r#"a,"b,c","d""e",f"#), vec!["a", "b,c", "d\"e", "f"]);
    }
}
