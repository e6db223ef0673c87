//! `report.html`: one self-contained page for the analyst (no scripts, fonts or images from
//! anywhere else): the run summary, the risk distribution and alerts per typology as inline
//! SVG charts, the top alerts with their reasons and evidence, and each top case's money flows
//! drawn as a graph.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::engine::{AlertSet, FLOW_ALERTS};

/// Alerts listed in the table.
const TOP_ALERTS: usize = 50;
/// Cases drawn.
const TOP_CASES: usize = 5;
/// Nodes per case graph (the case's alerted parties first, then the largest counterparties).
const CASE_NODES: usize = 14;

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn money(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}\
th{background:#f3f3f3}.warn{color:#8a4b00}h3{font-size:1em}.num{text-align:right}.victim{color:#06c;font-weight:bold}.controller{color:#b30000;font-weight:bold}\
.note{color:#555;font-size:.85em}svg text{font-family:system-ui,sans-serif}";

/// Renders the report of `set`.
pub fn render(set: &AlertSet) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>redflag report</title><style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(h, "<h1>redflag: ranked alerts for human review</h1>");
    let _ = writeln!(
        h,
        "<p class=\"note\">Every alert is a lead for a trained analyst, not a finding. A \
         <span class=\"victim\">possible victim</span> is a safeguarding lead and must never be \
         reported as a suspect (FinCEN FIN-2020-A008 p.10).</p>"
    );
    summary(&mut h, set);
    let _ = writeln!(h, "<h2>Risk distribution</h2>");
    h.push_str(&histogram(set.scores.iter().map(|s| s.risk).collect()));
    let _ = writeln!(h, "<h2>Alerts per typology</h2>");
    h.push_str(&typology_bars(set));
    fairness(&mut h, set);
    top_alerts(&mut h, set);
    cases(&mut h, set);
    h.push_str("</body></html>\n");
    h
}

fn summary(h: &mut String, set: &AlertSet) {
    let m = &set.manifest;
    let _ = writeln!(h, "<h2>Run</h2><table>");
    let row = |h: &mut String, k: &str, v: &str| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    };
    for i in &m.inputs {
        row(
            h,
            "input",
            &format!("{} ({} bytes, SHA-256 {})", i.path, i.size, i.sha256),
        );
    }
    row(
        h,
        "records",
        &format!(
            "{} read, {} accepted, {} rejected",
            m.ingest.rows_read, m.ingest.accepted, m.ingest.rejected
        ),
    );
    row(h, "as of", &m.as_of);
    row(h, "entities scored", &m.entities.to_string());
    row(h, "alerts", &m.alerts.to_string());
    row(
        h,
        "rule pack",
        &format!(
            "{} {}",
            m.rule_pack.get("name").map_or("", String::as_str),
            m.rule_pack.get("version").map_or("", String::as_str)
        ),
    );
    row(h, "seed", &m.seed.to_string());
    row(
        h,
        "identifiers",
        &match m.ids.get("key_fingerprint") {
            Some(fp) => format!("pseudonyms under key {fp} (redflag reveal maps one back, logged)"),
            None => "raw (--raw-ids)".to_owned(),
        },
    );
    row(h, "tool", &format!("redflag {}", m.tool_version));
    let t = &m.timings;
    row(
        h,
        "seconds",
        &format!(
            "ingest {:.2}, features {:.2}, rules {:.2}, model {:.2}, alerts {:.2}",
            t.ingest, t.features, t.rules, t.model, t.alerts
        ),
    );
    h.push_str("</table>\n");
}

/// Segments shown per dimension (all are in manifest.json).
const FAIRNESS_ROWS: usize = 12;

/// Alert rates per segment as tables with rate bars, and the disparity warnings.
fn fairness(h: &mut String, set: &AlertSet) {
    let f = &set.manifest.fairness;
    let _ = writeln!(
        h,
        "<h2>Alert rates per segment</h2><p class=\"note\">Entities alerting (the rule policy met, or anomaly-only) per \
         segment (before the budget). A disparity above {}x between segments of at least {} \
         entities is a warning when it is not down to chance (z &ge; {}) and the higher-rate \
         segment's alerts do not carry more fired indicators. Segments describe behaviour, never \
         protected attributes.</p>",
        f.limit,
        f.min_segment,
        crate::fairness::Z_CRITICAL
    );
    if f.warnings.is_empty() {
        h.push_str("<p>No unexplained disparity.</p>\n");
    } else {
        h.push_str("<ul class=\"warn\">");
        for w in &f.warnings {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul>\n");
    }
    for d in &f.dimensions {
        let top = d.segments.iter().map(|s| s.rate).fold(0.0, f64::max);
        let _ = writeln!(
            h,
            "<h3>{}</h3><table><tr><th>segment</th><th>entities</th><th>alerts</th><th>rate</th><th></th><th>vs overall</th><th>indicators per alert</th></tr>",
            esc(&d.dimension)
        );
        for s in d.segments.iter().take(FAIRNESS_ROWS) {
            let width = if top > 0.0 { 120.0 * s.rate / top } else { 0.0 };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}%</td><td><svg width=\"122\" height=\"10\"><rect width=\"{width:.1}\" height=\"10\" fill=\"#b33\"/></svg></td><td>{}</td><td>{}</td></tr>",
                esc(&s.segment),
                s.entities,
                s.alerts,
                100.0 * s.rate,
                s.ratio_to_overall
                    .map_or("-".to_owned(), |r| format!("{r:.2}x")),
                s.indicators_per_alert
                    .map_or("-".to_owned(), |r| format!("{r:.2}")),
            );
        }
        if d.segments.len() > FAIRNESS_ROWS {
            let _ = writeln!(
                h,
                "<tr><td colspan=\"7\" class=\"note\">{} more segments in manifest.json</td></tr>",
                d.segments.len() - FAIRNESS_ROWS
            );
        }
        h.push_str("</table>\n");
    }
}

/// A histogram of risk in 20 bins, counts on a log scale (most entities are low risk).
fn histogram(risks: Vec<f64>) -> String {
    const BINS: usize = 20;
    let (w, ht, pad) = (600.0, 180.0, 30.0);
    let mut counts = [0usize; BINS];
    for r in &risks {
        let b = ((r.clamp(0.0, 1.0) * BINS as f64) as usize).min(BINS - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bar = (w - 2.0 * pad) / BINS as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" role=\"img\" aria-label=\"risk histogram\">",
        ht + 2.0 * pad
    );
    for (i, c) in counts.iter().enumerate() {
        let frac = if *c == 0 {
            0.0
        } else {
            (1.0 + *c as f64).ln() / (1.0 + top).ln()
        };
        let bh = frac * ht;
        let x = pad + i as f64 * bar;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#c0392b\"><title>risk {:.2}-{:.2}: {c} entities</title></rect>",
            pad + ht - bh,
            bar - 2.0,
            i as f64 / BINS as f64,
            (i + 1) as f64 / BINS as f64
        );
        if c > &0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{c}</text>",
                x + bar / 2.0,
                pad + ht - bh - 3.0
            );
        }
    }
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{t}</text>",
            pad + t * (w - 2.0 * pad),
            ht + pad + 14.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">risk (entities per bin, log scale; {} entities)</text></svg>",
        w / 2.0,
        ht + pad + 28.0,
        risks.len()
    );
    s
}

fn typology_bars(set: &AlertSet) -> String {
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &set.alerts {
        if a.typologies.is_empty() {
            *per.entry("anomaly only").or_default() += 1;
        }
        for t in &a.typologies {
            *per.entry(t.as_str()).or_default() += 1;
        }
    }
    let mut rows: Vec<(&str, usize)> = per.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    if rows.is_empty() {
        return "<p>No alerts.</p>\n".into();
    }
    let top = rows[0].1.max(1) as f64;
    let (label_w, bar_w, line) = (560.0, 260.0, 18.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"alerts per typology\">",
        label_w + bar_w + 60.0,
        rows.len() as f64 * line + 10.0
    );
    for (i, (t, n)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * line;
        let bw = *n as f64 / top * bar_w;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
             <rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#2c7fb8\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{n}</text>",
            label_w - 6.0,
            y + 12.0,
            esc(&short(t, 88)),
            label_w,
            line - 4.0,
            label_w + bw + 4.0,
            y + 12.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// `t` cut to `n` characters with an ellipsis.
fn short(t: &str, n: usize) -> String {
    if t.chars().count() <= n {
        t.to_owned()
    } else {
        format!("{}…", t.chars().take(n - 1).collect::<String>())
    }
}

fn role_class(role: &str) -> &'static str {
    match role {
        "possible_victim" => "victim",
        "possible_controller" => "controller",
        _ => "",
    }
}

fn top_alerts(h: &mut String, set: &AlertSet) {
    let _ = writeln!(
        h,
        "<h2>Top alerts</h2><p class=\"note\">The first {} of {} alerts; all are in alerts.jsonl.</p>",
        TOP_ALERTS.min(set.alerts.len()),
        set.alerts.len()
    );
    h.push_str("<table><tr><th>rank</th><th>entity</th><th>risk</th><th>role</th><th>case</th><th>reasons</th><th>top anomaly features</th><th>evidence</th></tr>\n");
    for a in set.alerts.iter().take(TOP_ALERTS) {
        let reasons: Vec<String> = if a.reasons.is_empty() {
            vec!["anomaly only: no rule fired".into()]
        } else {
            a.reasons
                .iter()
                .map(|r| {
                    format!(
                        "<b>{}</b> ({}) {}",
                        esc(&r.rule_id),
                        esc(&r.severity),
                        esc(&r.text)
                    )
                })
                .collect()
        };
        let features: Vec<String> = a
            .top_features
            .iter()
            .take(3)
            .map(|t| format!("{} = {}", esc(&t.name), t.value))
            .collect();
        let evidence: Vec<String> = a.evidence_txn_ids.iter().take(5).map(|e| esc(e)).collect();
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}<br><span class=\"note\">{}</span></td><td class=\"num\">{:.3}</td>\
             <td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            a.rank,
            esc(&a.entity_id),
            esc(&a.entity_kind),
            a.risk,
            role_class(&a.role_hint),
            esc(&a.role_hint.replace('_', " ")),
            esc(&a.case_id),
            reasons.join("<br>"),
            features.join("<br>"),
            evidence.join("<br>"),
            if a.evidence_txn_ids.len() > 5 {
                format!(
                    "<br><span class=\"note\">+{} more</span>",
                    a.evidence_txn_ids.len() - 5
                )
            } else {
                String::new()
            }
        );
    }
    h.push_str("</table>\n");
}

/// Each of the top cases drawn as a circle of parties with arrows for the money between them.
fn cases(h: &mut String, set: &AlertSet) {
    let _ = writeln!(
        h,
        "<h2>Top cases: money flows over the last 30 days</h2><p class=\"note\">Alerted parties \
         in colour (red: possible controller, blue: possible victim, grey: other), their largest \
         counterparties in white; arrow width grows with the amount (base currency).</p>"
    );
    let mut order: Vec<&str> = Vec::new();
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in set.alerts.iter().take(FLOW_ALERTS).enumerate() {
        if !members.contains_key(a.case_id.as_str()) {
            order.push(a.case_id.as_str());
        }
        members.entry(a.case_id.as_str()).or_default().push(i);
    }
    for case in order.into_iter().take(TOP_CASES) {
        let alerts: Vec<&crate::Alert> = members[case].iter().map(|&i| &set.alerts[i]).collect();
        let role: BTreeMap<&str, &str> = alerts
            .iter()
            .filter(|a| a.entity_kind != "customer")
            .map(|a| (a.entity_id.as_str(), a.role_hint.as_str()))
            .collect();
        let flows: Vec<&crate::Flow> = set
            .flows
            .iter()
            .filter(|f| role.contains_key(f.from.as_str()) || role.contains_key(f.to.as_str()))
            .collect();
        // Nodes: the alerted parties, then counterparties by total amount.
        let mut nodes: Vec<&str> = role.keys().copied().collect();
        let mut weight: BTreeMap<&str, f64> = BTreeMap::new();
        for f in &flows {
            for p in [f.from.as_str(), f.to.as_str()] {
                if !role.contains_key(p) {
                    *weight.entry(p).or_default() += f.amount;
                }
            }
        }
        let mut others: Vec<(&str, f64)> = weight.into_iter().collect();
        others.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        nodes.extend(
            others
                .iter()
                .map(|o| o.0)
                .take(CASE_NODES.saturating_sub(nodes.len())),
        );
        let shown: BTreeSet<&str> = nodes.iter().copied().collect();
        let _ = writeln!(
            h,
            "<h3>Case {} ({} alerts{})</h3>",
            esc(case),
            alerts.len(),
            if alerts.iter().any(|a| a.entity_kind == "customer") {
                ", customers not drawn"
            } else {
                ""
            }
        );
        if nodes.len() < 2 || flows.is_empty() {
            h.push_str("<p class=\"note\">No transfers in the window.</p>\n");
            continue;
        }
        h.push_str(&graph(
            &nodes,
            &role,
            flows
                .iter()
                .filter(|f| shown.contains(f.from.as_str()) && shown.contains(f.to.as_str()))
                .copied()
                .collect(),
        ));
    }
}

fn graph(nodes: &[&str], role: &BTreeMap<&str, &str>, flows: Vec<&crate::Flow>) -> String {
    let (w, ht) = (760.0, 520.0);
    let (cx, cy, r) = (w / 2.0, ht / 2.0, 200.0);
    let pos: BTreeMap<&str, (f64, f64)> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let a =
                std::f64::consts::TAU * i as f64 / nodes.len() as f64 - std::f64::consts::FRAC_PI_2;
            (*n, (cx + r * a.cos(), cy + r * a.sin()))
        })
        .collect();
    let top = flows.iter().map(|f| f.amount).fold(1.0, f64::max);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{ht}\" role=\"img\" aria-label=\"money flows\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"10\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>"
    );
    for f in &flows {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(f.from.as_str()), pos.get(f.to.as_str()))
        else {
            continue;
        };
        if f.from == f.to {
            continue;
        }
        // Stop the arrow at the node's edge; bend it a little so two directions stay apart.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ex, ey) = (x2 - dx / len * 22.0, y2 - dy / len * 22.0);
        let (mx, my) = (
            (x1 + ex) / 2.0 - dy / len * 18.0,
            (y1 + ey) / 2.0 + dx / len * 18.0,
        );
        let width = 1.0 + 5.0 * (f.amount / top).sqrt();
        let _ = write!(
            s,
            "<path d=\"M {x1:.1} {y1:.1} Q {mx:.1} {my:.1} {ex:.1} {ey:.1}\" stroke=\"#555\" stroke-opacity=\"0.7\" stroke-width=\"{width:.1}\" fill=\"none\" marker-end=\"url(#arrow)\"><title>{} -> {}: {} in {} transactions</title></path>\
             <text x=\"{mx:.1}\" y=\"{my:.1}\" font-size=\"9\" fill=\"#333\">{}</text>",
            esc(&f.from),
            esc(&f.to),
            money(f.amount),
            f.count,
            money(f.amount)
        );
    }
    for n in nodes {
        let (x, y) = pos[n];
        let fill = match role.get(n) {
            Some(&"possible_controller") => "#e06666",
            Some(&"possible_victim") => "#6fa8dc",
            Some(_) => "#bbbbbb",
            None => "#ffffff",
        };
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"20\" fill=\"{fill}\" stroke=\"#333\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            y + 34.0,
            esc(n)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn histogram_counts_every_entity_once() {
        let svg = histogram(vec![0.0, 0.01, 0.5, 0.99, 1.0]);
        assert!(svg.contains("risk 0.00-0.05: 2 entities"));
        assert!(svg.contains("risk 0.50-0.55: 1 entities"));
        assert!(svg.contains("risk 0.95-1.00: 2 entities"));
        assert!(svg.contains("5 entities"));
    }
}
