//! Alert rates per segment, so that a supervisor (and the analyst) can see whether the queue
//! falls harder on one kind of customer than another.
//!
//! Segments are descriptive and non-protected: entity kind, channel mix (the channel family of
//! most of an entity's transactions), region (the `geo_region` of most of its located
//! transactions) and institution (its own bank or VASP). Per segment: entities, alerts (entities
//! meeting the alert policy, or anomaly-only alerts, before `--budget` and `--max-per-case`),
//! the alert rate, its ratio to the overall rate, and the mean number of fired indicators per
//! alert.
//!
//! A warning is raised when, within one dimension, a segment's rate is more than
//! [`DISPARITY_LIMIT`] times another's while its alerts do not carry more fired indicators on
//! average (a segment without alerts counts as 0), and the difference is not down to chance (a
//! two-proportion z-test, z ≥ [`Z_CRITICAL`]): the higher rate is then not explained by stronger
//! evidence, and the thresholds deserve a look. One warning per segment names the strongest such
//! disparity. Segments with fewer than [`MIN_SEGMENT`] entities, `unknown` and `mixed` are shown
//! but not compared.

use std::collections::BTreeMap;

use redflag_features::{CHANNEL_MIXES, Profiles};
use serde::Serialize;

use crate::engine::round4;

/// Rate ratio above which an unexplained disparity is a warning.
pub const DISPARITY_LIMIT: f64 = 1.25;
/// Smallest segment compared.
pub const MIN_SEGMENT: usize = 30;
/// Two-proportion z above which a disparity is not put down to chance (two-sided 5 %).
pub const Z_CRITICAL: f64 = 1.96;

/// Two-proportion z statistic (pooled), `None` when undefined.
fn z_score(hi: &Segment, lo: &Segment) -> Option<f64> {
    let (n1, n2) = (hi.entities as f64, lo.entities as f64);
    let pooled = (hi.alerts + lo.alerts) as f64 / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    (se > 0.0).then(|| (hi.alerts as f64 / n1 - lo.alerts as f64 / n2) / se)
}

/// One segment's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// The segment's value (e.g. `cash`, `TX`, `account`).
    pub segment: String,
    /// Entities in it.
    pub entities: usize,
    /// Of which alert (the policy met, or anomaly-only), before the budget.
    pub alerts: usize,
    /// alerts / entities.
    pub rate: f64,
    /// rate / the dimension's overall rate (null when nothing alerts).
    pub ratio_to_overall: Option<f64>,
    /// Mean fired indicators per alert (null without alerts).
    pub indicators_per_alert: Option<f64>,
}

/// One way of segmenting entities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimension {
    /// `entity_kind`, `channel_mix`, `region` or `institution`.
    pub dimension: String,
    /// Its segments, largest first.
    pub segments: Vec<Segment>,
    /// Highest rate over lowest among the compared segments (null when fewer than two, or the
    /// lowest is 0).
    pub max_ratio: Option<f64>,
}

/// The fairness section of `manifest.json` and `report.html`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Fairness {
    /// [`DISPARITY_LIMIT`].
    pub limit: f64,
    /// [`MIN_SEGMENT`].
    pub min_segment: usize,
    /// Per dimension.
    pub dimensions: Vec<Dimension>,
    /// Unexplained disparities, one sentence each.
    pub warnings: Vec<String>,
}

/// What one entity contributes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entity<'a> {
    pub kind: &'a str,
    pub alerted: bool,
    pub indicators: usize,
}

/// Computes the report. `entities[i]` and `profiles` share the feature table's order.
pub(crate) fn assess<'a>(entities: &[Entity<'a>], profiles: &'a Profiles) -> Fairness {
    let mix = |i: usize| {
        CHANNEL_MIXES
            .get(profiles.channel_mix.get(i).copied().unwrap_or(u8::MAX) as usize)
            .copied()
            .unwrap_or("unknown")
    };
    fn code<'n>(v: &[u32], names: &'n [String], i: usize) -> &'n str {
        Profiles::name(names, v.get(i).copied().unwrap_or(Profiles::UNKNOWN))
    }
    let dims: [(&str, &dyn Fn(usize) -> &'a str); 4] = [
        ("entity_kind", &|i| entities[i].kind),
        ("channel_mix", &mix),
        ("region", &|i| {
            code(&profiles.region, &profiles.region_names, i)
        }),
        ("institution", &|i| {
            code(&profiles.institution, &profiles.institution_names, i)
        }),
    ];
    let mut out = Fairness {
        limit: DISPARITY_LIMIT,
        min_segment: MIN_SEGMENT,
        ..Fairness::default()
    };
    for (name, seg_of) in dims {
        // segment -> (entities, alerts, indicators)
        let mut acc: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
        for (i, e) in entities.iter().enumerate() {
            let a = acc.entry(seg_of(i)).or_default();
            a.0 += 1;
            if e.alerted {
                a.1 += 1;
                a.2 += e.indicators;
            }
        }
        let (n, alerts): (usize, usize) = acc.values().fold((0, 0), |s, a| (s.0 + a.0, s.1 + a.1));
        let overall = if n == 0 {
            0.0
        } else {
            alerts as f64 / n as f64
        };
        let mut segments: Vec<Segment> = acc
            .iter()
            .map(|(s, &(ents, al, ind))| {
                let rate = al as f64 / ents as f64;
                Segment {
                    segment: (*s).to_owned(),
                    entities: ents,
                    alerts: al,
                    rate: round4(rate),
                    ratio_to_overall: (overall > 0.0).then(|| round4(rate / overall)),
                    indicators_per_alert: (al > 0).then(|| round4(ind as f64 / al as f64)),
                }
            })
            .collect();
        segments.sort_by(|a, b| {
            b.entities
                .cmp(&a.entities)
                .then_with(|| a.segment.cmp(&b.segment))
        });
        let compared: Vec<&Segment> = segments
            .iter()
            .filter(|s| s.entities >= MIN_SEGMENT && s.segment != "unknown" && s.segment != "mixed")
            .collect();
        let max_ratio = (compared.len() >= 2)
            .then(|| {
                let hi = compared.iter().map(|s| s.rate).fold(f64::MIN, f64::max);
                let lo = compared.iter().map(|s| s.rate).fold(f64::MAX, f64::min);
                (lo > 0.0).then(|| round4(hi / lo))
            })
            .flatten();
        for hi in &compared {
            // The strongest unexplained, significant disparity of `hi` over another segment.
            let worst = compared
                .iter()
                .filter(|lo| {
                    hi.rate > DISPARITY_LIMIT * lo.rate
                        && hi.indicators_per_alert.unwrap_or(0.0)
                            <= lo.indicators_per_alert.unwrap_or(0.0)
                })
                .filter_map(|lo| {
                    z_score(hi, lo)
                        .filter(|z| *z >= Z_CRITICAL)
                        .map(|z| (lo, z))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((lo, z)) = worst {
                out.warnings.push(format!(
                    "{name} {:?} alerts at {} the rate of {:?} ({} of {} vs {} of {}, z = {z:.1}) without more fired indicators per alert ({} vs {})",
                    hi.segment,
                    if lo.rate > 0.0 {
                        format!("{:.2}x", hi.rate / lo.rate)
                    } else {
                        "more than".to_owned()
                    },
                    lo.segment,
                    hi.alerts,
                    hi.entities,
                    lo.alerts,
                    lo.entities,
                    per_alert(hi.indicators_per_alert),
                    per_alert(lo.indicators_per_alert),
                ));
            }
        }
        out.dimensions.push(Dimension {
            dimension: name.to_owned(),
            segments,
            max_ratio,
        });
    }
    out
}

fn per_alert(v: Option<f64>) -> String {
    v.map_or_else(|| "no alerts".to_owned(), |v| format!("{v:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles(mix: Vec<u8>) -> Profiles {
        let n = mix.len();
        Profiles {
            channel_mix: mix,
            region: vec![Profiles::UNKNOWN; n],
            institution: vec![Profiles::UNKNOWN; n],
            ..Profiles::default()
        }
    }

    /// 100 cash-heavy and 100 card-heavy accounts; `cash_alerts` and `card_alerts` alert, with
    /// the given indicators each.
    fn run(cash: (usize, usize), card: (usize, usize)) -> Fairness {
        let mut e = Vec::new();
        let mut mix = Vec::new();
        for (family, (alerts, ind)) in [(0u8, cash), (1u8, card)] {
            for i in 0..100 {
                e.push(Entity {
                    kind: "account",
                    alerted: i < alerts,
                    indicators: ind,
                });
                mix.push(family);
            }
        }
        assess(&e, &profiles(mix))
    }

    #[test]
    fn an_unexplained_disparity_warns_and_an_explained_one_does_not() {
        // Cash-heavy accounts alert 3x as often with the same evidence per alert: warn.
        let f = run((30, 2), (10, 2));
        let mix = &f.dimensions[1];
        assert_eq!(mix.dimension, "channel_mix");
        assert_eq!(mix.max_ratio, Some(3.0));
        let cash = mix
            .segments
            .iter()
            .find(|s| s.segment == "cash")
            .expect("cash");
        assert_eq!((cash.entities, cash.alerts, cash.rate), (100, 30, 0.3));
        assert_eq!(cash.ratio_to_overall, Some(1.5));
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
        assert!(
            f.warnings[0].starts_with("channel_mix \"cash\" alerts at 3.00x the rate of \"card\"")
        );
        // The same rates, but the cash alerts carry more indicators: explained.
        assert!(run((30, 3), (10, 2)).warnings.is_empty());
        // Within the limit (1.2x): no warning.
        assert!(run((30, 2), (25, 2)).warnings.is_empty());
        // 3x, but 3 alerts against 1 in 100 entities each: chance (z = 1.0).
        assert!(run((3, 2), (1, 2)).warnings.is_empty());
        // One kind, no region or institution: nothing compared there.
        assert!(f.dimensions[0].max_ratio.is_none());
        assert!(f.dimensions[2].max_ratio.is_none());
    }

    #[test]
    fn small_segments_are_shown_but_not_compared() {
        let mut e = vec![
            Entity {
                kind: "account",
                alerted: false,
                indicators: 0,
            };
            100
        ];
        e.extend(vec![
            Entity {
                kind: "wallet",
                alerted: true,
                indicators: 1,
            };
            5
        ]);
        let f = assess(&e, &profiles(vec![2; 105]));
        let kinds = &f.dimensions[0];
        assert_eq!(kinds.segments.len(), 2);
        assert!(kinds.max_ratio.is_none());
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }
}
