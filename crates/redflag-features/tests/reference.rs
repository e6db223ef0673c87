//! The feature kernel against a naive reference: a seeded random population, and for every
//! entity each feature recomputed by scanning all transactions straight from its definition
//! in the catalogue.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{D, T0, Tx, features_with};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redflag_features::{DAY, FeatureConfig, HOUR};
use redflag_schema::columns as col;
use redflag_schema::{Channel, Status};

const ACCOUNTS: usize = 40;
const CITIES: [&str; 5] = ["Lyon", "Nice", "Lille", "Metz", "Pau"];
const MCCS: [u16; 12] = [
    5411, 7311, 7273, 7011, 3650, 5814, 5912, 4121, 4511, 7361, 5813, 6051,
];

fn population(seed: u64) -> Vec<Tx> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let account = |i: usize| format!("A{i:02}");
    let channels = [
        Channel::CardPresent,
        Channel::CardNotPresent,
        Channel::WireDomestic,
        Channel::WireIntl,
        Channel::RemittanceMsb,
        Channel::P2pApp,
        Channel::Ach,
        Channel::CashDeposit,
        Channel::CashWithdrawal,
        Channel::AtmWithdrawal,
        Channel::AtmDeposit,
        Channel::PrepaidLoad,
        Channel::CryptoBuy,
    ];
    let mut txs = Vec::new();
    for _ in 0..3000 {
        let hours = rng.gen_range(0.0..120.0 * D);
        let ch = channels[rng.gen_range(0..channels.len())];
        let a = rng.gen_range(0..ACCOUNTS);
        let mut b = rng.gen_range(0..ACCOUNTS);
        if rng.gen_bool(0.02) {
            b = a; // self-transfers are not legs of anyone
        }
        let amount = match rng.gen_range(0..10) {
            0 => rng.gen_range(8000.0..10_000.0f64).round(),
            1 => f64::from(rng.gen_range(1..50u32)) * 100.0,
            2 => f64::from(rng.gen_range(1..30u32)) * 3.0,
            _ => (rng.gen_range(5.0..3000.0f64) * 100.0).round() / 100.0,
        };
        let (sender, receiver) = if matches!(ch, Channel::CashDeposit | Channel::AtmDeposit) {
            ("CASH".to_owned(), account(a))
        } else if matches!(ch, Channel::CashWithdrawal | Channel::AtmWithdrawal) {
            (account(a), "CASH".to_owned())
        } else {
            (account(a), account(b))
        };
        let mut tx = Tx::new(&sender, &receiver, amount, ch, hours);
        if rng.gen_bool(0.7) {
            tx = tx.with(col::GEO_CITY, CITIES[rng.gen_range(0..CITIES.len())]);
        }
        if rng.gen_bool(0.5) {
            tx = tx.with(col::LOCATION_ID, &format!("L{}", rng.gen_range(0..6)));
        }
        if matches!(ch, Channel::CardPresent | Channel::CardNotPresent) {
            tx = tx.mcc(MCCS[rng.gen_range(0..MCCS.len())]);
        }
        if rng.gen_bool(0.6) {
            tx = tx.offset(rng.gen_range(-4..=4i16) * 60);
        }
        if rng.gen_bool(0.05) {
            tx = tx.status(Status::Declined);
        }
        if ch == Channel::Ach && rng.gen_bool(0.5) {
            tx = tx.with(col::PURPOSE_CODE, "SALA");
        }
        txs.push(tx);
    }
    txs.sort_by_key(|t| t.ts);
    txs
}

/// A leg of entity `e` as the reference sees it.
struct Leg<'a> {
    tx: &'a Tx,
    incoming: bool,
}

impl Leg<'_> {
    fn cp(&self) -> &str {
        if self.incoming {
            &self.tx.sender
        } else {
            &self.tx.receiver
        }
    }
    fn completed(&self) -> bool {
        self.tx.status.is_none_or(|s| s == Status::Completed)
    }
    fn local_minute(&self) -> i64 {
        let off = i64::from(self.tx.offset.unwrap_or(0));
        (self.tx.ts.div_euclid(1_000_000) + off * 60).rem_euclid(86_400) / 60
    }
    fn night(&self) -> bool {
        let m = self.local_minute();
        !(360..1320).contains(&m)
    }
    fn city(&self) -> Option<&str> {
        self.tx.opt.get(col::GEO_CITY).map(String::as_str)
    }
    fn is_cash(&self) -> bool {
        self.tx.channel.is_cash()
    }
}

fn legs<'a>(txs: &'a [Tx], e: &str, as_of: i64) -> Vec<Leg<'a>> {
    let mut out = Vec::new();
    for t in txs
        .iter()
        .filter(|t| t.ts <= as_of && t.sender != t.receiver)
    {
        if t.sender == e {
            out.push(Leg {
                tx: t,
                incoming: false,
            });
        }
        if t.receiver == e {
            out.push(Leg {
                tx: t,
                incoming: true,
            });
        }
    }
    out
}

fn reference(txs: &[Tx], e: &str, as_of: i64) -> BTreeMap<&'static str, f64> {
    let t_cash = 10_000.0;
    let all = legs(txs, e, as_of);
    let within = |l: &Leg<'_>, days: i64| l.tx.ts > as_of - days * DAY && l.completed();
    let w: Vec<&Leg<'_>> = all.iter().filter(|l| within(l, 30)).collect();
    let baseline: Vec<&Leg<'_>> = all
        .iter()
        .filter(|l| l.completed() && l.tx.ts > as_of - 210 * DAY && l.tx.ts <= as_of - 30 * DAY)
        .collect();
    let mut r = BTreeMap::new();
    let count = |f: &dyn Fn(&&Leg<'_>) -> bool| w.iter().filter(|l| f(l)).count() as f64;
    let sum =
        |f: &dyn Fn(&&Leg<'_>) -> bool| w.iter().filter(|l| f(l)).map(|l| l.tx.amount).sum::<f64>();
    let distinct = |f: &dyn Fn(&&Leg<'_>) -> Option<String>| {
        w.iter().filter_map(f).collect::<BTreeSet<_>>().len() as f64
    };
    let cp = |l: &&Leg<'_>| (l.cp() != "CASH").then(|| l.cp().to_owned());
    r.insert("n_in_30d", count(&|l| l.incoming));
    r.insert("in_sum_30d", sum(&|l| l.incoming));
    r.insert("n_out_30d", count(&|l| !l.incoming));
    r.insert("out_sum_30d", sum(&|l| !l.incoming));
    r.insert(
        "senders_30d",
        distinct(&|l| if l.incoming { cp(l) } else { None }),
    );
    r.insert(
        "receivers_30d",
        distinct(&|l| if l.incoming { None } else { cp(l) }),
    );
    // Relationships are transfers: card purchases and cash are not counterparties here.
    let card = |l: &Leg<'_>| matches!(l.tx.channel, Channel::CardPresent | Channel::CardNotPresent);
    let before: BTreeSet<&str> = baseline
        .iter()
        .filter(|l| !card(l))
        .map(|l| l.cp())
        .filter(|c| *c != "CASH")
        .collect();
    let now: BTreeSet<&str> = w
        .iter()
        .filter(|l| !card(l))
        .map(|l| l.cp())
        .filter(|c| *c != "CASH")
        .collect();
    let new = now.iter().filter(|c| !before.contains(*c)).count() as f64;
    r.insert(
        "new_counterparty_share_30d",
        if now.is_empty() {
            f64::NAN
        } else {
            new / now.len() as f64
        },
    );
    r.insert(
        "active_days_30d",
        distinct(&|l| Some(l.tx.ts.div_euclid(DAY).to_string())),
    );
    let n = w.len() as f64;
    let share = |k: f64| if n > 0.0 { k / n } else { f64::NAN };
    r.insert(
        "round_amount_share_30d",
        share(count(&|l| {
            l.tx.amount >= 100.0 && l.tx.amount % 100.0 == 0.0
        })),
    );
    r.insert("night_share_30d", share(count(&|l| l.night())));
    let cash_in = |l: &&Leg<'_>| {
        l.incoming && matches!(l.tx.channel, Channel::CashDeposit | Channel::AtmDeposit)
    };
    let cash_out = |l: &&Leg<'_>| {
        !l.incoming
            && matches!(
                l.tx.channel,
                Channel::CashWithdrawal | Channel::AtmWithdrawal
            )
    };
    r.insert("cash_in_30d", count(&cash_in));
    r.insert("cash_in_sum_30d", sum(&cash_in));
    r.insert("cash_out_30d", count(&cash_out));
    r.insert("cash_out_sum_30d", sum(&cash_out));
    r.insert("cash_atm_30d", count(&|l| l.is_cash()));
    r.insert("cash_atm_night_30d", count(&|l| l.is_cash() && l.night()));
    r.insert(
        "cash_atm_cities_30d",
        distinct(&|l| {
            if l.is_cash() {
                l.city().map(String::from)
            } else {
                None
            }
        }),
    );
    r.insert(
        "cash_in_cities_30d",
        distinct(&|l| {
            if cash_in(l) {
                l.city().map(String::from)
            } else {
                None
            }
        }),
    );
    let near = |l: &&Leg<'_>| l.is_cash() && l.tx.amount >= 0.8 * t_cash && l.tx.amount < t_cash;
    r.insert("cash_near_threshold_30d", count(&near));
    r.insert(
        "cash_near_threshold_7d",
        count(&|l| near(l) && l.tx.ts > as_of - 7 * DAY),
    );
    // Rolling 24 h cash: every span (t - 24h, t] ending at a cash movement.
    let cash: Vec<&&Leg<'_>> = w.iter().filter(|l| l.is_cash()).collect();
    let mut best = 0.0f64;
    let mut splits = 0.0;
    for end in &cash {
        let span: Vec<_> = cash
            .iter()
            .filter(|l| l.tx.ts <= end.tx.ts && end.tx.ts - l.tx.ts < DAY)
            .collect();
        let total: f64 = span.iter().map(|l| l.tx.amount).sum();
        best = best.max(total);
        let places: BTreeSet<(Option<&String>, Option<&String>, Channel)> = span
            .iter()
            .map(|l| {
                let loc = l.tx.opt.get(col::LOCATION_ID);
                (
                    loc,
                    if loc.is_none() {
                        l.tx.opt.get(col::GEO_CITY)
                    } else {
                        None
                    },
                    l.tx.channel,
                )
            })
            .collect();
        if total >= t_cash
            && span.len() >= 2
            && span.iter().all(|l| l.tx.amount < t_cash)
            && places.len() >= 2
        {
            splits += 1.0;
        }
    }
    r.insert("cash_24h_max_sum", best);
    r.insert("split_24h_30d", splits);
    let mcc_in =
        |l: &&Leg<'_>, codes: &[u16]| !l.incoming && l.tx.mcc.is_some_and(|m| codes.contains(&m));
    r.insert("ad_site_payments_30d", count(&|l| mcc_in(l, &[7311, 7273])));
    r.insert(
        "ad_site_weeks_30d",
        distinct(&|l| {
            mcc_in(l, &[7311, 7273])
                .then(|| ((l.tx.ts.div_euclid(DAY) + 3).div_euclid(7)).to_string())
        }),
    );
    let lodging = |l: &&Leg<'_>| {
        !l.incoming
            && l.tx
                .mcc
                .is_some_and(|m| m == 7011 || (3501..=3999).contains(&m))
    };
    r.insert("lodging_30d", count(&lodging));
    r.insert(
        "lodging_cities_30d",
        distinct(&|l| {
            if lodging(l) {
                l.city().map(String::from)
            } else {
                None
            }
        }),
    );
    let cats: [&[u16]; 7] = [
        &[5814],
        &[5912],
        &[5977],
        &[5621, 5631],
        &[7230, 7298],
        &[4121],
        &[],
    ];
    let per_cat = cats.iter().enumerate().filter(|(k, codes)| {
        count(&|l| {
            !l.incoming
                && l.tx.mcc.is_some_and(|m| {
                    if *k == 6 {
                        m == 7011 || (3501..=3999).contains(&m)
                    } else {
                        codes.contains(&m)
                    }
                })
        }) >= 3.0
    });
    r.insert("sustenance_categories_30d", per_cat.count() as f64);
    let located = |l: &&Leg<'_>| {
        (l.is_cash() || l.tx.channel == Channel::CardPresent)
            .then(|| l.city().map(String::from))
            .flatten()
    };
    r.insert("geo_cities_30d", distinct(&located));
    r.insert(
        "prepaid_30d",
        count(&|l| {
            !l.incoming
                && matches!(
                    l.tx.channel,
                    Channel::PrepaidLoad | Channel::PrepaidPurchase
                )
        }),
    );
    r.insert(
        "crypto_buy_30d",
        count(&|l| !l.incoming && (l.tx.channel == Channel::CryptoBuy || l.tx.mcc == Some(6051))),
    );
    r.insert(
        "adult_venue_after_hours_30d",
        count(&|l| {
            let m = l.local_minute();
            mcc_in(l, &[7297, 7298, 7230, 7273, 5813])
                && matches!(l.tx.channel, Channel::CardPresent | Channel::CardNotPresent)
                && !(540..1260).contains(&m)
        }),
    );
    let w60: Vec<_> = all.iter().filter(|l| within(l, 60)).collect();
    r.insert(
        "travel_payments_60d",
        w60.iter()
            .filter(|l| {
                !l.incoming
                    && l.tx.mcc.is_some_and(|m| {
                        (3000..=3299).contains(&m) || [4511, 4112, 4131, 4722, 9399].contains(&m)
                    })
            })
            .count() as f64,
    );
    let w365: Vec<_> = all.iter().filter(|l| within(l, 365)).collect();
    r.insert(
        "recruitment_fees_365d",
        w365.iter()
            .filter(|l| !l.incoming && l.tx.mcc.is_some_and(|m| m == 7361 || m == 8299))
            .map(|l| l.tx.amount)
            .sum(),
    );
    // Fan-in / fan-out: distinct counterparties in [t - 7d, t] for every leg time t.
    for (incoming, name) in [(true, "fan_in_7d_max"), (false, "fan_out_7d_max")] {
        let side: Vec<_> = w
            .iter()
            .filter(|l| l.incoming == incoming && l.cp() != "CASH" && !card(l))
            .collect();
        let best = side
            .iter()
            .map(|end| {
                side.iter()
                    .filter(|l| l.tx.ts <= end.tx.ts && end.tx.ts - l.tx.ts <= 7 * DAY)
                    .map(|l| l.cp())
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .max()
            .unwrap_or(0);
        r.insert(name, best as f64);
    }
    // First-in-first-out pass-through within 72 h.
    let mut credits: Vec<(i64, f64)> = Vec::new();
    let mut matched = 0.0;
    for l in &w {
        if l.incoming {
            credits.push((l.tx.ts, l.tx.amount));
            continue;
        }
        let mut need = l.tx.amount;
        for c in credits.iter_mut() {
            if need <= 0.0 {
                break;
            }
            if l.tx.ts - c.0 > 72 * HOUR || c.1 <= 1e-9 {
                continue;
            }
            let take = need.min(c.1);
            c.1 -= take;
            need -= take;
            matched += take;
        }
    }
    let credits_sum = r["in_sum_30d"];
    r.insert(
        "pass_through_ratio_30d",
        if credits_sum > 0.0 {
            matched / credits_sum
        } else {
            f64::NAN
        },
    );
    // Payroll credits and sweeps (cash out or transfers within 48 h >= 80%).
    let w90: Vec<_> = all.iter().filter(|l| within(l, 90)).collect();
    let payroll: Vec<_> = w90
        .iter()
        .filter(|l| l.incoming && l.tx.opt.get(col::PURPOSE_CODE).is_some_and(|p| p == "SALA"))
        .collect();
    r.insert("payroll_in_90d", payroll.len() as f64);
    let swept = payroll
        .iter()
        .filter(|c| {
            let gone: f64 = w90
                .iter()
                .filter(|d| !d.incoming && d.tx.ts > c.tx.ts && d.tx.ts - c.tx.ts <= 48 * HOUR)
                .filter(|d| {
                    matches!(
                        d.tx.channel,
                        Channel::CashWithdrawal
                            | Channel::AtmWithdrawal
                            | Channel::Ach
                            | Channel::WireDomestic
                            | Channel::WireIntl
                            | Channel::RemittanceMsb
                            | Channel::P2pApp
                    )
                })
                .map(|d| d.tx.amount)
                .sum();
            gone >= 0.8 * c.tx.amount
        })
        .count();
    r.insert("wage_sweeps_90d", swept as f64);
    let first = all.iter().map(|l| l.tx.ts).min().unwrap_or(as_of);
    r.insert("history_days", (as_of - first) as f64 / DAY as f64);
    r
}

#[test]
fn kernel_agrees_with_naive_reference_on_a_random_population() {
    for seed in [1, 2, 3] {
        let txs = population(seed);
        let as_of = T0 + (110.0 * D * HOUR as f64) as i64;
        let cfg = FeatureConfig {
            as_of: Some(as_of),
            ..FeatureConfig::default()
        };
        let table = features_with(&txs, &cfg);
        assert_eq!(table.as_of, as_of);
        let mut checked = 0;
        for i in 0..ACCOUNTS {
            let e = format!("A{i:02}");
            for (name, want) in reference(&txs, &e, as_of) {
                let got = table.get(&e, name);
                let same = (got.is_nan() && want.is_nan())
                    || (got - want).abs() <= 1e-9 * want.abs().max(1.0);
                assert!(
                    same,
                    "seed {seed}, {e}, {name}: kernel {got}, reference {want}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 35 * ACCOUNTS, "{checked} comparisons");
        // The population really exercises the features compared.
        for name in [
            "split_24h_30d",
            "cash_near_threshold_7d",
            "wage_sweeps_90d",
            "ad_site_weeks_30d",
            "lodging_cities_30d",
        ] {
            let total: f64 = (0..ACCOUNTS)
                .map(|i| table.get(&format!("A{i:02}"), name))
                .sum();
            assert!(total > 0.0, "seed {seed}: {name} is zero for everyone");
        }
    }
}

#[test]
fn same_result_whatever_the_thread_count() {
    let txs = population(7);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .expect("pool");
    let a = one.install(|| common::features(&txs));
    let b = four.install(|| common::features(&txs));
    assert_eq!(a.batch, b.batch);
}

/// Extracts grouped by account are not in time order (found with `redflag synth` output,
/// issue 3): the table must not depend on the order of the rows. Ties in time keep the input
/// order of rows, so the shuffle moves whole time groups and keeps their inner order.
#[test]
fn same_result_whatever_the_row_order() {
    let txs = population(9);
    let mut groups: Vec<Vec<Tx>> = Vec::new();
    for tx in txs.iter().cloned() {
        match groups.last_mut() {
            Some(g) if g[0].ts == tx.ts => g.push(tx),
            _ => groups.push(vec![tx]),
        }
    }
    // A deterministic shuffle: reverse, then interleave halves.
    groups.reverse();
    let (a, b) = groups.split_at(groups.len() / 2);
    let mut shuffled: Vec<Tx> = Vec::with_capacity(txs.len());
    for i in 0..a.len().max(b.len()) {
        for half in [b, a] {
            if let Some(g) = half.get(i) {
                shuffled.extend(g.iter().cloned());
            }
        }
    }
    assert_eq!(shuffled.len(), txs.len());
    assert_ne!(
        shuffled.iter().map(|t| t.ts).collect::<Vec<_>>(),
        txs.iter().map(|t| t.ts).collect::<Vec<_>>()
    );
    assert_eq!(
        common::features(&txs).batch,
        common::features(&shuffled).batch
    );
}
