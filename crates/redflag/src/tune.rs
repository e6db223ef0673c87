//! Threshold and policy sweeps, so that thresholds can be justified to a supervisor.
//!
//! [`tune`] computes the feature table once, then:
//!
//! - for every enabled rule and every strictness `s` of [`SCALES`], re-evaluates that rule with
//!   its thresholds moved by `s` (a `>=`/`>` threshold multiplied by `s`, a `<=`/`<` one divided
//!   by it, so `s > 1` is always stricter), keeps the other rules as they are, and applies the
//!   alert policy: how many entities the rule fires on and how many alert, and, with labels,
//!   the precision and recall of the alerted set;
//! - sweeps the alert policy itself (rules and groups required, hard rules alone or not);
//! - lists the entities just below each rule's line: those it does not fire on that it would
//!   at `s` = 0.9 (10 % looser), for review (at most [`BELOW_PER_RULE`] per rule, the closest
//!   first).
//!
//! Rules only: the isolation forest's anomaly-only alerts are not part of the sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Float64Type, UInt32Type};
use rayon::prelude::*;
use redflag_rules::{Policy, RuleEngine};
use serde::Serialize;

use crate::engine::Engine;
use crate::engine::round4;
use crate::{Error, Result};

/// Strictness factors swept (1 = the pack as written).
pub const SCALES: [f64; 9] = [0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0];
/// Below-the-line entities listed per rule.
pub const BELOW_PER_RULE: usize = 20;

/// One rule at one strictness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleSetting {
    /// Rule id.
    pub rule_id: String,
    /// Strictness (1 = as written).
    pub scale: f64,
    /// Its thresholds at this strictness, `column op value`, `; `-separated.
    pub thresholds: String,
    /// Entities the rule fires on.
    pub fires: usize,
    /// Entities alerted by the policy with this setting (other rules unchanged).
    pub alerts: usize,
    /// Precision of the alerted set against the labels.
    pub precision: Option<f64>,
    /// Recall of the alerted set against the labels.
    pub recall: Option<f64>,
}

/// One alert policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicySetting {
    /// Rules that must fire.
    pub min_rules: usize,
    /// Groups they must span.
    pub min_groups: usize,
    /// A hard rule alerts alone.
    pub hard_alerts_alone: bool,
    /// The pack's own policy.
    pub current: bool,
    /// Entities alerted.
    pub alerts: usize,
    /// Precision against the labels.
    pub precision: Option<f64>,
    /// Recall against the labels.
    pub recall: Option<f64>,
}

/// An entity just below a rule's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BelowLine {
    /// Rule id.
    pub rule_id: String,
    /// Entity id (its pseudonym in a pseudonymous run).
    pub entity_id: String,
    /// Entity kind.
    pub entity_kind: String,
    /// `column=value (op threshold)` for each threshold of the rule.
    pub values: String,
    /// Largest relative distance to a threshold it misses (0.1 = 10 %).
    pub gap: f64,
}

/// Everything a sweep found.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// Entities in the feature table.
    pub entities: usize,
    /// Labelled positives among them (null without labels).
    pub positives: Option<usize>,
    /// Per rule and strictness.
    pub rules: Vec<RuleSetting>,
    /// Per alert policy.
    pub policies: Vec<PolicySetting>,
    /// Below-the-line entities for review.
    pub below_the_line: Vec<BelowLine>,
}

/// The threshold comparisons of a rule: (column, direction: +1 for >=/>, -1 for <=/<, 0 for =).
fn comparisons(engine: &RuleEngine, k: usize) -> Vec<(String, String, f64, i8)> {
    engine.rules()[k]
        .when
        .thresholds
        .iter()
        .map(|t| {
            let dir = match t.op.as_str() {
                ">=" | ">" => 1,
                "<=" | "<" => -1,
                _ => 0,
            };
            (t.column.clone(), t.op.clone(), t.value, dir)
        })
        .collect()
}

/// `batch` with the columns rule `k` compares divided (`>=`) or multiplied (`<=`) by `s`:
/// evaluating the rule on it equals evaluating it with thresholds moved by `s`.
fn scaled(batch: &RecordBatch, cmp: &[(String, String, f64, i8)], s: f64) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let mut done = BTreeSet::new();
    for (name, _, _, dir) in cmp {
        if *dir == 0 || !done.insert(name.clone()) {
            continue;
        }
        let Ok(i) = batch.schema().index_of(name) else {
            continue;
        };
        let f = if *dir > 0 { 1.0 / s } else { s };
        let c = batch.column(i);
        columns[i] = match c.data_type() {
            DataType::Float64 => Arc::new(
                c.as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.map(|v| v * f))
                    .collect::<Float64Array>(),
            ),
            DataType::UInt32 => Arc::new(
                c.as_primitive::<UInt32Type>()
                    .iter()
                    .map(|v| v.map(|v| (f64::from(v) * f).floor() as u32))
                    .collect::<UInt32Array>(),
            ),
            _ => continue,
        };
    }
    RecordBatch::try_new(batch.schema(), columns).map_err(|e| Error::Output(e.to_string()))
}

fn quality(alerted: &[bool], positive: Option<&[bool]>) -> (Option<f64>, Option<f64>) {
    let Some(pos) = positive else {
        return (None, None);
    };
    let tp = alerted.iter().zip(pos).filter(|(a, p)| **a && **p).count() as f64;
    let n_alert = alerted.iter().filter(|a| **a).count() as f64;
    let n_pos = pos.iter().filter(|p| **p).count() as f64;
    (
        (n_alert > 0.0).then(|| round4(tp / n_alert)),
        (n_pos > 0.0).then(|| round4(tp / n_pos)),
    )
}

/// Sweeps `engine`'s rule thresholds and alert policy over its inputs. `labels` (id ->
/// suspicious) adds precision and recall; ids are matched against the raw entity ids.
pub fn tune(engine: &Engine, labels: Option<&BTreeMap<String, bool>>) -> Result<TuneReport> {
    engine.in_memory("tune (it sweeps thresholds over the whole table)")?;
    let (rules, cfg, _) = engine.setup()?;
    let ingested = engine.ingest()?;
    // Only the feature table is swept: the transactions go as the pass reads them.
    let (mut features, _) = redflag_features::compute_owned(ingested.batches, &[], &cfg)?;
    drop(std::mem::take(&mut features.ledger));
    let table = &features.batch;
    let n = table.num_rows();
    let ids = table.column(0).as_string::<i32>();
    let kinds = table.column(1).as_string::<i32>();
    let positive: Option<Vec<bool>> = labels.map(|l| {
        (0..n)
            .map(|r| l.get(ids.value(r)).copied().unwrap_or(false))
            .collect()
    });
    let base = rules.evaluate(table)?;
    let fired: Vec<Vec<usize>> = (0..n)
        .map(|r| base.hits_of(r).iter().map(|h| h.rule).collect())
        .collect();
    let policy = rules.pack().policy.clone();
    let enabled: Vec<usize> = (0..rules.rules().len())
        .filter(|&k| rules.rules()[k].rule.enabled)
        .collect();

    // Per rule and strictness (rules in parallel).
    let per_rule: Vec<(Vec<RuleSetting>, Vec<BelowLine>)> = enabled
        .par_iter()
        .map(|&k| -> Result<_> {
            let cmp = comparisons(&rules, k);
            let id = rules.rules()[k].rule.id.clone();
            let mut settings = Vec::new();
            let mut at: BTreeMap<u64, Vec<bool>> = BTreeMap::new();
            for s in SCALES {
                let fires = if s == 1.0 {
                    (0..n).map(|r| fired[r].contains(&k)).collect()
                } else {
                    rules.fires(k, &scaled(table, &cmp, s)?)?
                };
                let alerted: Vec<bool> = (0..n)
                    .map(|r| {
                        let mut f: Vec<usize> =
                            fired[r].iter().copied().filter(|&j| j != k).collect();
                        if fires[r] {
                            f.push(k);
                        }
                        rules.policy_alerts(&policy, &f)
                    })
                    .collect();
                let (precision, recall) = quality(&alerted, positive.as_deref());
                settings.push(RuleSetting {
                    rule_id: id.clone(),
                    scale: s,
                    thresholds: cmp
                        .iter()
                        .map(|(c, op, v, dir)| {
                            let t = match dir {
                                1 => v * s,
                                -1 => v / s,
                                _ => *v,
                            };
                            format!("{c} {op} {}", round4(t))
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    fires: fires.iter().filter(|f| **f).count(),
                    alerts: alerted.iter().filter(|a| **a).count(),
                    precision,
                    recall,
                });
                at.insert(s.to_bits(), fires);
            }
            // Below the line: not firing as written, firing 10 % looser.
            let (now, looser) = (&at[&1.0f64.to_bits()], &at[&0.9f64.to_bits()]);
            let mut below: Vec<BelowLine> = (0..n)
                .filter(|&r| looser[r] && !now[r])
                .map(|r| {
                    let mut gap: f64 = 0.0;
                    let values = cmp
                        .iter()
                        .map(|(c, op, t, dir)| {
                            let v = value(table, c, r);
                            if let (Some(v), true) = (v, *t != 0.0) {
                                let short = match dir {
                                    1 => (t - v) / t,
                                    -1 => (v - t) / t,
                                    _ => 0.0,
                                };
                                gap = gap.max(short);
                            }
                            format!(
                                "{c}={} ({op} {t})",
                                v.map_or("null".to_owned(), |v| round4(v).to_string())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    BelowLine {
                        rule_id: id.clone(),
                        entity_id: ids.value(r).to_owned(),
                        entity_kind: kinds.value(r).to_owned(),
                        values,
                        gap: round4(gap),
                    }
                })
                .collect();
            below.sort_by(|a, b| {
                a.gap
                    .total_cmp(&b.gap)
                    .then_with(|| a.entity_id.cmp(&b.entity_id))
            });
            below.truncate(BELOW_PER_RULE);
            Ok((settings, below))
        })
        .collect::<Result<_>>()?;

    // The alert policy.
    let mut policies = Vec::new();
    for min_rules in 1..=3 {
        for min_groups in 1..=min_rules {
            for hard in [false, true] {
                let p = Policy {
                    min_rules,
                    min_groups,
                    hard_alerts_alone: hard,
                };
                let alerted: Vec<bool> = fired.iter().map(|f| rules.policy_alerts(&p, f)).collect();
                let (precision, recall) = quality(&alerted, positive.as_deref());
                policies.push(PolicySetting {
                    min_rules,
                    min_groups,
                    hard_alerts_alone: hard,
                    current: min_rules == policy.min_rules
                        && min_groups == policy.min_groups
                        && hard == policy.hard_alerts_alone,
                    alerts: alerted.iter().filter(|a| **a).count(),
                    precision,
                    recall,
                });
            }
        }
    }
    let (mut settings, mut below) = (Vec::new(), Vec::new());
    for (s, b) in per_rule {
        settings.extend(s);
        below.extend(b);
    }
    if let Some(key) = &engine.key {
        for b in &mut below {
            b.entity_id = key.pseudonym(&b.entity_id);
        }
    }
    Ok(TuneReport {
        entities: n,
        positives: positive.map(|p| p.iter().filter(|x| **x).count()),
        rules: settings,
        policies,
        below_the_line: below,
    })
}

fn value(table: &RecordBatch, column: &str, row: usize) -> Option<f64> {
    let c = table.column_by_name(column)?;
    if c.is_null(row) {
        return None;
    }
    match c.data_type() {
        DataType::Float64 => Some(c.as_primitive::<Float64Type>().value(row)),
        DataType::UInt32 => Some(f64::from(c.as_primitive::<UInt32Type>().value(row))),
        _ => None,
    }
}

impl TuneReport {
    /// Writes `tune.json`, `tune_rules.csv`, `tune_policy.csv`, `below_the_line.csv` and
    /// `tune.html` into `dir` (created when missing), each atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        use crate::output::write_file;
        use redflag_io::push_csv_field;
        crate::output::create_out_dir(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Output(e.to_string()))?;
        write_file(&dir.join("tune.json"), json.as_bytes())?;
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut csv = String::from("rule_id,scale,thresholds,fires,alerts,precision,recall\n");
        for r in &self.rules {
            csv.push_str(&format!("{},{},", r.rule_id, r.scale));
            push_csv_field(&mut csv, &r.thresholds);
            csv.push_str(&format!(
                ",{},{},{},{}\n",
                r.fires,
                r.alerts,
                opt(r.precision),
                opt(r.recall)
            ));
        }
        write_file(&dir.join("tune_rules.csv"), csv.as_bytes())?;
        let mut csv = String::from(
            "min_rules,min_groups,hard_alerts_alone,current,alerts,precision,recall\n",
        );
        for p in &self.policies {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                p.min_rules,
                p.min_groups,
                p.hard_alerts_alone,
                p.current,
                p.alerts,
                opt(p.precision),
                opt(p.recall)
            ));
        }
        write_file(&dir.join("tune_policy.csv"), csv.as_bytes())?;
        let mut csv = String::from("rule_id,entity_id,entity_kind,gap,values\n");
        for b in &self.below_the_line {
            csv.push_str(&format!(
                "{},{},{},{},",
                b.rule_id, b.entity_id, b.entity_kind, b.gap
            ));
            push_csv_field(&mut csv, &b.values);
            csv.push('\n');
        }
        write_file(&dir.join("below_the_line.csv"), csv.as_bytes())?;
        write_file(&dir.join("tune.html"), self.html().as_bytes())
    }

    /// One self-contained page: the policy trade-off chart and a row per rule with its sweep.
    pub fn html(&self) -> String {
        use std::fmt::Write as _;
        let mut h = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>redflag tune</title>\
             <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\
             table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}\
             th{background:#f3f3f3}.cur{font-weight:bold}.note{color:#555}</style></head><body>\n\
             <h1>redflag tune: thresholds and alert policy</h1>\n",
        );
        let _ = writeln!(
            h,
            "<p class=\"note\">{} entities{}. Strictness s moves every threshold of one rule (s &gt; 1 \
             stricter), the other rules as written; alerts are entities meeting the alert policy \
             (rules only, no anomaly-only alerts).</p>",
            self.entities,
            self.positives
                .map(|p| format!(", {p} labelled positive"))
                .unwrap_or_else(|| ", no labels (give --labels for precision and recall)".into())
        );
        // The trade-off chart: each rule's sweep as a line, alerts (x) against recall (y), or
        // against strictness without labels.
        let (w, ht, pad) = (640.0, 320.0, 40.0);
        let max_alerts = self
            .rules
            .iter()
            .map(|r| r.alerts)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let labelled = self.positives.is_some();
        let x = |a: usize| pad + (w - 2.0 * pad) * a as f64 / max_alerts;
        let y = |r: &RuleSetting| {
            let v = if labelled {
                r.recall.unwrap_or(0.0)
            } else {
                SCALES.iter().position(|s| *s == r.scale).unwrap_or(0) as f64 / 8.0
            };
            ht - pad - (ht - 2.0 * pad) * v
        };
        let _ = write!(
            h,
            "<h2>Trade-off per rule</h2><svg width=\"{w}\" height=\"{ht}\" role=\"img\">\
             <line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#888\"/>\
             <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{0}\" stroke=\"#888\"/>\
             <text x=\"{2}\" y=\"{3}\" font-size=\"11\" text-anchor=\"middle\">entities alerted (0 to {max_alerts})</text>\
             <text x=\"12\" y=\"{4}\" font-size=\"11\" transform=\"rotate(-90 12 {4})\" text-anchor=\"middle\">{5}</text>",
            ht - pad,
            w - pad,
            w / 2.0,
            ht - 8.0,
            ht / 2.0,
            if labelled {
                "recall (0 to 1)"
            } else {
                "strictness (0.5 to 2)"
            }
        );
        let by_rule = self.rules.chunk_by(|a, b| a.rule_id == b.rule_id);
        for (i, sweep) in by_rule.enumerate() {
            let hue = (i * 47) % 360;
            let pts: Vec<String> = sweep
                .iter()
                .map(|r| format!("{:.1},{:.1}", x(r.alerts), y(r)))
                .collect();
            let _ = write!(
                h,
                "<polyline fill=\"none\" stroke=\"hsl({hue},60%,45%)\" stroke-width=\"1.2\" points=\"{}\"><title>{}</title></polyline>",
                pts.join(" "),
                sweep[0].rule_id
            );
            if let Some(cur) = sweep.iter().find(|r| r.scale == 1.0) {
                let _ = write!(
                    h,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"hsl({hue},60%,45%)\"><title>{} as written</title></circle>",
                    x(cur.alerts),
                    y(cur),
                    cur.rule_id
                );
            }
        }
        h.push_str("</svg>\n<h2>Alert policy</h2><table><tr><th>rules</th><th>groups</th><th>hard alone</th><th>alerts</th><th>precision</th><th>recall</th></tr>\n");
        let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
        for p in &self.policies {
            let _ = writeln!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if p.current { " class=\"cur\"" } else { "" },
                p.min_rules,
                p.min_groups,
                p.hard_alerts_alone,
                p.alerts,
                f(p.precision),
                f(p.recall)
            );
        }
        h.push_str("</table>\n<h2>Rules: alerts at each strictness</h2><table><tr><th>rule</th>");
        for s in SCALES {
            let _ = write!(h, "<th>s={s}</th>");
        }
        h.push_str("</tr>\n");
        for sweep in self.rules.chunk_by(|a, b| a.rule_id == b.rule_id) {
            let _ = write!(h, "<tr><td>{}</td>", sweep[0].rule_id);
            for r in sweep {
                let _ = write!(
                    h,
                    "<td{} title=\"{}\">{}{}</td>",
                    if r.scale == 1.0 { " class=\"cur\"" } else { "" },
                    r.thresholds
                        .replace('"', "&quot;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;"),
                    r.alerts,
                    r.recall.map(|v| format!(" ({v:.2})")).unwrap_or_default()
                );
            }
            h.push_str("</tr>\n");
        }
        let _ = writeln!(
            h,
            "</table><p class=\"note\">{} entities just below a rule's line are in below_the_line.csv for review.</p></body></html>",
            self.below_the_line.len()
        );
        h
    }
}
