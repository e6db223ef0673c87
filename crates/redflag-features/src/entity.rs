//! The per-entity kernel: every behaviour feature of one entity from its time-ordered legs.

use hashbrown::HashMap;
use redflag_schema::Channel;

use crate::catalog::{F, N_FEATURES};
use crate::config::{DAY, FeatureConfig, HOUR, mcc_bit};
use crate::graph::{Edge, GatherWindow, NodeGraph};
use crate::index::{IN, is_in, row_of};
use crate::intern::NONE;
use crate::prepare::{Row, Txns, flag};

/// What the kernel needs besides the legs.
pub(crate) struct Ctx<'a> {
    pub t: &'a Txns,
    pub cfg: &'a FeatureConfig,
    /// Counterparty code of each side of a row: the account-level entities.
    /// Customer codes of each side, when the input has them.
    pub sender_customer: Option<&'a [u32]>,
    pub receiver_customer: Option<&'a [u32]>,
}

/// Window starts (exclusive) derived from `as_of`.
struct Windows {
    as_of: i64,
    w7: i64,
    w30: i64,
    w35: i64,
    w60: i64,
    w90: i64,
    w365: i64,
    base: i64,
}

impl Windows {
    fn new(as_of: i64) -> Windows {
        Windows {
            as_of,
            w7: as_of - 7 * DAY,
            w30: as_of - 30 * DAY,
            w35: as_of - 35 * DAY,
            w60: as_of - 60 * DAY,
            w90: as_of - 90 * DAY,
            w365: as_of - 365 * DAY,
            base: as_of - 210 * DAY,
        }
    }
}

/// Buffers reused from one entity to the next.
#[derive(Default)]
pub(crate) struct Scratch {
    a: Vec<u32>,
    b: Vec<u32>,
    c: Vec<u32>,
    d: Vec<u32>,
    e: Vec<u32>,
    f: Vec<u32>,
    g: Vec<u32>,
    h: Vec<u32>,
    i: Vec<u32>,
    days: Vec<i64>,
    weeks: Vec<i64>,
    amounts: Vec<f64>,
    lags: Vec<f64>,
    fwd: Vec<f64>,
    cash: Vec<usize>,
    lodging: Vec<(i64, u32)>,
    travel: Vec<(u32, i64)>,
    count: HashMap<u32, u32>,
    fan: FanScratch,
    edges: Vec<Edge>,
    in14: Vec<u32>,
    out14: Vec<u32>,
    /// Counterparties of the window's transfers (in and out; card purchases and cash are not
    /// edges): thin-node tests and new-counterparty shares.
    graph_cps: Vec<u32>,
    transfer_receivers: Vec<u32>,
    gather: GatherWindow,
    /// The entity's rows, local legs and their table rows (see `compute`).
    local: Vec<Row>,
    local_legs: Vec<u32>,
    global: Vec<u32>,
    /// (time, remaining) of unmatched credits, for first-in-first-out matching.
    queue: std::collections::VecDeque<(i64, f64)>,
}

fn distinct(v: &mut Vec<u32>) -> usize {
    v.sort_unstable();
    v.dedup();
    v.len()
}

fn distinct_i64(v: &mut Vec<i64>) -> usize {
    v.sort_unstable();
    v.dedup();
    v.len()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn share(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { f64::NAN }
}

/// Channels that move money to another party's account (LE-2 sweeps, FN-1 remote debits).
fn is_transfer(c: Channel) -> bool {
    matches!(
        c,
        Channel::Ach
            | Channel::WireDomestic
            | Channel::WireIntl
            | Channel::RemittanceMsb
            | Channel::P2pApp
    )
}

fn is_intl(c: Channel) -> bool {
    matches!(c, Channel::WireIntl | Channel::RemittanceMsb)
}

fn is_cash_in(c: Channel) -> bool {
    matches!(c, Channel::CashDeposit | Channel::AtmDeposit)
}

fn is_cash_out(c: Channel) -> bool {
    matches!(c, Channel::CashWithdrawal | Channel::AtmWithdrawal)
}

fn is_card(c: Channel) -> bool {
    matches!(c, Channel::CardPresent | Channel::CardNotPresent)
}

/// Computes one entity's features into `out` (NaN = null) and returns its number of
/// transactions in the 210 days up to `as_of` (its activity segment). Swept-wage destinations
/// are appended to `sweeps` as `(destination account, this entity)`.
pub(crate) fn compute(
    cx: &Ctx<'_>,
    entity: u32,
    legs: &[u32],
    out: &mut [f64; N_FEATURES],
    s: &mut Scratch,
    sweeps: &mut Vec<(u32, u32)>,
    node: Option<&mut NodeGraph>,
) -> usize {
    out.fill(0.0);
    let w = Windows::new(cx.t.as_of);
    // Copy the entity's rows (up to as_of) into a contiguous local buffer once: every pass
    // below then reads memory in order instead of jumping around the whole table. A local
    // leg is `position << 1 | dir`, so `row_of` and `is_in` work on it unchanged; `global`
    // maps a position back to the table's row for the side columns.
    let mut local = std::mem::take(&mut s.local);
    let mut local_legs = std::mem::take(&mut s.local_legs);
    let mut global = std::mem::take(&mut s.global);
    local.clear();
    local_legs.clear();
    global.clear();
    // The gather alone first: a loop of independent loads and copies keeps many of its cache
    // misses in flight at once. Legs are in time order, so the rows after `as_of` are a tail.
    local.extend(legs.iter().map(|&l| cx.t.rows[row_of(l)]));
    let kept = local.partition_point(|r| r.ts <= w.as_of);
    local.truncate(kept);
    for (k, &l) in legs[..kept].iter().enumerate() {
        local_legs.push(((k as u32) << 1) | (l & IN));
        global.push(row_of(l) as u32);
    }
    let rows: &[Row] = &local;
    let legs: &[u32] = &local_legs;
    let wants_graph = node.is_some();
    s.edges.clear();
    s.in14.clear();
    s.out14.clear();
    s.graph_cps.clear();
    s.transfer_receivers.clear();
    let global_row = |l: u32| global[row_of(l)] as usize;
    let cfg = cx.cfg;
    let big_t = cfg.cash_threshold;
    let cp = |leg: u32| {
        let r = &rows[row_of(leg)];
        if is_in(leg) { r.sender } else { r.receiver }
    };
    let first_ts = legs.first().map(|l| rows[row_of(*l)].ts);
    out[F::HistoryDays as usize] = first_ts.map_or(0.0, |t| (w.as_of - t) as f64 / DAY as f64);
    let base_history = first_ts.is_some_and(|t| t <= w.w30 - 60 * DAY);
    let from = |start: i64| legs.partition_point(|l| rows[row_of(*l)].ts <= start);
    let (i_base, i30) = (from(w.base), from(w.w30));
    let baseline = &legs[i_base..i30];
    let win = &legs[i30..];

    // ---- baseline ------------------------------------------------------------------------
    let (before_cps, before_receivers) = (&mut s.a, &mut s.b);
    before_cps.clear();
    before_receivers.clear();
    let (mut n_base, mut sum_base, mut sq_base, mut sust_base) = (0u32, 0.0, 0.0, 0.0);
    for &l in baseline {
        let r = &rows[row_of(l)];
        if !r.completed() {
            continue;
        }
        n_base += 1;
        sum_base += r.amount;
        sq_base += r.amount * r.amount;
        let c = cp(l);
        if c != NONE && !is_card(r.channel()) {
            before_cps.push(c);
            if !is_in(l) {
                before_receivers.push(c);
            }
        }
        if !is_in(l) && r.sustenance != 0 {
            sust_base += r.amount;
        }
    }
    distinct(before_cps);
    distinct(before_receivers);

    // ---- one pass over the 30-day window --------------------------------------------------
    let (senders, receivers, cash_cities, geo_cities, geo_regions) =
        (&mut s.c, &mut s.d, &mut s.e, &mut s.f, &mut s.g);
    let (depositors, remit_senders) = (&mut s.h, &mut s.i);
    for v in [
        &mut *senders,
        &mut *receivers,
        &mut *cash_cities,
        &mut *geo_cities,
        &mut *geo_regions,
        &mut *depositors,
        &mut *remit_senders,
    ] {
        v.clear();
    }
    s.days.clear();
    s.weeks.clear();
    s.amounts.clear();
    s.cash.clear();
    s.lodging.clear();
    let mut cash_atm_cities: Vec<u32> = Vec::new();
    let mut lodging_cities: Vec<u32> = Vec::new();
    let mut sust_counts = [0u32; 8];
    let (mut n_total, mut n_round, mut n_night) = (0u32, 0u32, 0u32);
    let (mut z_max, base_mean, base_sd) = {
        let n = f64::from(n_base);
        let mean = if n_base > 0 { sum_base / n } else { 0.0 };
        let var = if n_base > 1 {
            (sq_base - n * mean * mean) / (n - 1.0)
        } else {
            0.0
        };
        (f64::NEG_INFINITY, mean, var.max(0.0).sqrt())
    };
    let (mut card_receipts, mut card_receipts_out) = (0u32, 0u32);
    let (mut intl_out, mut corridor_out) = (0.0, 0.0);
    let mut prev_city = NONE;
    let mut city_changes = 0u32;
    let mut lodging_small = 0u32;
    let mut p2p_micro_in = 0.0;
    let mut last_p2p_micro_in = i64::MIN;
    let mut p2p_to_crypto = 0.0;
    let mut last_cash_in = i64::MIN;
    let mut cash_then_intl = 0.0;
    let mut prepaid_t: Vec<i64> = Vec::new();
    let mut crypto_t: Vec<i64> = Vec::new();
    let mut ad_t: Vec<i64> = Vec::new();
    let holder = |l: u32| -> u32 {
        let i = global_row(l);
        match (is_in(l), cx.receiver_customer, cx.sender_customer) {
            (true, Some(rc), _) => rc[i],
            (false, _, Some(sc)) => sc[i],
            _ => NONE,
        }
    };
    for &l in win {
        let r = &rows[row_of(l)];
        if !r.completed() {
            continue;
        }
        let ch = r.channel();
        let c = cp(l);
        let inc = is_in(l);
        // The graph is of transfers between parties: card purchases at merchants are not
        // edges (customers of the same shops would otherwise form dense blocks).
        if c != NONE && !is_card(r.channel()) {
            s.graph_cps.push(c);
            if !inc {
                s.transfer_receivers.push(c);
            }
        }
        if c != NONE && wants_graph && !is_card(r.channel()) {
            if !inc {
                s.edges.push(Edge {
                    ts: r.ts,
                    to: c,
                    amount: r.amount,
                    row: global_row(l) as u32,
                });
            }
            if r.ts > w.as_of - 14 * DAY {
                if inc { s.in14.push(c) } else { s.out14.push(c) }
            }
        }
        n_total += 1;
        s.days.push(r.ts.div_euclid(DAY));
        if r.has(flag::ROUND) {
            n_round += 1;
        }
        if r.is_night() {
            n_night += 1;
        }
        if n_base >= 5 && base_sd > 0.0 {
            z_max = z_max.max((r.amount - base_mean) / base_sd);
        }
        if inc {
            out[F::NIn30 as usize] += 1.0;
            out[F::InSum30 as usize] += r.amount;
            if c != NONE {
                senders.push(c);
            }
            if is_cash_in(ch) {
                out[F::CashIn30 as usize] += 1.0;
                out[F::CashInSum30 as usize] += r.amount;
                if r.city != NONE {
                    cash_cities.push(r.city);
                }
                last_cash_in = r.ts;
                if let Some(cond) = &cx.t.conductor
                    && cond[global_row(l)] != NONE
                    && cond[global_row(l)] != holder(l)
                {
                    depositors.push(cond[global_row(l)]);
                }
            }
            if matches!(ch, Channel::P2pApp | Channel::RemittanceMsb) && c != NONE {
                // Tag senders apart from conductors (a different code space).
                depositors.push(c | (1 << 31));
            }
            if (is_transfer(ch) && ch != Channel::P2pApp && ch != Channel::Ach)
                && (2000.0..3000.0).contains(&r.amount)
            {
                out[F::Remit2k3k30 as usize] += 1.0;
                if c != NONE {
                    remit_senders.push(c);
                }
            }
            if is_card(ch) && r.mcc(mcc_bit::ADULT_VENUE) {
                card_receipts += 1;
                if !r.in_business_hours() {
                    card_receipts_out += 1;
                }
            }
            if ch == Channel::P2pApp && r.amount < 100.0 {
                p2p_micro_in += r.amount;
                last_p2p_micro_in = r.ts;
            }
        } else {
            out[F::NOut30 as usize] += 1.0;
            out[F::OutSum30 as usize] += r.amount;
            if c != NONE {
                receivers.push(c);
            }
            if is_cash_out(ch) {
                out[F::CashOut30 as usize] += 1.0;
                out[F::CashOutSum30 as usize] += r.amount;
            }
            if is_intl(ch) {
                intl_out += r.amount;
                if r.has(flag::CORRIDOR) {
                    corridor_out += r.amount;
                }
                if last_cash_in != i64::MIN && r.ts - last_cash_in <= 7 * DAY {
                    cash_then_intl += r.amount;
                }
            }
            if r.mcc(mcc_bit::AD_SITE) || r.has(flag::AD_SITE_NAME) {
                out[F::AdSite30 as usize] += 1.0;
                s.weeks.push((r.ts.div_euclid(DAY) + 3).div_euclid(7));
                s.amounts.push(r.amount);
                ad_t.push(r.ts);
            }
            if r.mcc(mcc_bit::LODGING) || r.has(flag::RENTAL_NAME) {
                out[F::Lodging30 as usize] += 1.0;
                if r.city != NONE {
                    lodging_cities.push(r.city);
                }
                s.lodging.push((r.ts, r.merchant));
                if r.amount < 150.0 {
                    lodging_small += 1;
                }
            }
            if r.sustenance != 0 {
                sust_counts[r.sustenance as usize] += 1;
                out[F::SustenanceSpend30 as usize] += r.amount;
            }
            if r.mcc(mcc_bit::ADULT_VENUE) && is_card(ch) && !r.in_business_hours() {
                out[F::AdultAfterHours30 as usize] += 1.0;
            }
            if matches!(ch, Channel::PrepaidPurchase | Channel::PrepaidLoad) {
                out[F::Prepaid30 as usize] += 1.0;
                out[F::PrepaidSum30 as usize] += r.amount;
                prepaid_t.push(r.ts);
            }
            if ch == Channel::CryptoBuy || r.mcc(mcc_bit::QUASI_CASH) {
                out[F::CryptoBuy30 as usize] += 1.0;
                if r.amount <= 100.0 {
                    out[F::CryptoBuySmall30 as usize] += 1.0;
                }
                crypto_t.push(r.ts);
                if last_p2p_micro_in != i64::MIN && r.ts - last_p2p_micro_in <= 7 * DAY {
                    p2p_to_crypto += r.amount;
                }
            }
        }
        if ch == Channel::P2pApp && r.amount < 100.0 {
            out[F::P2pMicro30 as usize] += 1.0;
        }
        if r.is_cash() {
            out[F::CashAtm30 as usize] += 1.0;
            if r.is_night() {
                out[F::CashAtmNight30 as usize] += 1.0;
            }
            if r.city != NONE {
                cash_atm_cities.push(r.city);
            }
            if (0.8 * big_t..big_t).contains(&r.amount) {
                out[F::NearThreshold30 as usize] += 1.0;
                if r.ts > w.w7 {
                    out[F::NearThreshold7 as usize] += 1.0;
                }
            }
            s.cash.push(row_of(l));
        }
        if (r.is_cash() || ch == Channel::CardPresent) && r.city != NONE {
            geo_cities.push(r.city);
            if r.region != NONE {
                geo_regions.push(r.region);
            }
            if prev_city != NONE && prev_city != r.city {
                city_changes += 1;
            }
            prev_city = r.city;
        }
    }
    let nf = |x: usize| x as f64;
    out[F::Senders30 as usize] = nf(distinct(senders));
    out[F::Receivers30 as usize] = nf(distinct(receivers));
    {
        // New counterparties: the window's distinct transfer counterparties (card purchases
        // are not relationships) absent from the baseline.
        let n = distinct(&mut s.graph_cps);
        let all = &s.graph_cps;
        if let Some(node) = node {
            // The node as the graph pass sees it (its most recent edges only, see graph.rs).
            let keep = s.edges.len().saturating_sub(cx.cfg.max_edges_per_node);
            node.out = s.edges[keep..].to_vec();
            distinct(&mut s.in14);
            distinct(&mut s.out14);
            node.in14 = s.in14.clone();
            node.out14 = s.out14.clone();
            // Thin means few transfer counterparties: a mule's own card spend does not count.
            node.degree = n as u32;
            if out[F::NIn30 as usize] >= 3.0 && out[F::NOut30 as usize] >= 3.0 {
                s.gather.win.clear();
                s.gather.win.extend(win.iter().filter_map(|&l| {
                    let r = &rows[row_of(l)];
                    let c = cp(l);
                    // Transfers only: shopping is not scattering.
                    (r.completed() && c != NONE && !is_card(r.channel())).then_some((
                        r.ts,
                        is_in(l),
                        c,
                        r.amount,
                    ))
                }));
                out[F::GatherScatter as usize] = f64::from(u8::from(s.gather.any_window()));
            }
        }
        let new = all
            .iter()
            .filter(|c| before_cps.binary_search(c).is_err())
            .count();
        out[F::NewCpShare30 as usize] = share(nf(new), nf(n));
        distinct(&mut s.transfer_receivers);
        let new_r = s
            .transfer_receivers
            .iter()
            .filter(|c| before_receivers.binary_search(c).is_err())
            .count();
        out[F::NewReceiverShare30 as usize] = share(nf(new_r), nf(s.transfer_receivers.len()));
    }
    out[F::ActiveDays30 as usize] = nf(distinct_i64(&mut s.days));
    out[F::RoundShare30 as usize] = share(f64::from(n_round), f64::from(n_total));
    out[F::NightShare30 as usize] = share(f64::from(n_night), f64::from(n_total));
    out[F::Velocity30 as usize] = if base_history {
        f64::from(n_total) / (f64::from(n_base) / 6.0).max(1.0 / 6.0)
    } else {
        f64::NAN
    };
    out[F::AmountZMax30 as usize] = if z_max.is_finite() { z_max } else { f64::NAN };
    out[F::CashInShare30 as usize] = share(out[F::CashInSum30 as usize], out[F::InSum30 as usize]);
    out[F::CashAtmCities30 as usize] = nf(distinct(&mut cash_atm_cities));
    out[F::Remit2k3kSenders30 as usize] = nf(distinct(remit_senders));
    out[F::CashInCities30 as usize] = nf(distinct(cash_cities));
    out[F::Depositors30 as usize] = nf(distinct(depositors));
    out[F::CorridorOutShare30 as usize] = share(corridor_out, intl_out);
    out[F::CashThenIntl30 as usize] = share(cash_then_intl, out[F::CashInSum30 as usize]);
    out[F::GeoCities30 as usize] = nf(distinct(geo_cities));
    out[F::GeoRegions30 as usize] = nf(distinct(geo_regions));
    out[F::CityChangesWeek30 as usize] = f64::from(city_changes) / (30.0 / 7.0);
    out[F::AfterHoursReceipts30 as usize] = if card_receipts >= 20 {
        f64::from(card_receipts_out) / f64::from(card_receipts)
    } else {
        f64::NAN
    };
    out[F::P2pMicroToCrypto30 as usize] = if p2p_micro_in > 0.0 {
        (p2p_to_crypto / p2p_micro_in).min(1.0)
    } else {
        f64::NAN
    };

    // SE-1: ad-site payment shape.
    out[F::AdSiteWeeks30 as usize] = nf(distinct_i64(&mut s.weeks));
    {
        let a = &mut s.amounts;
        a.sort_unstable_by(f64::total_cmp);
        let repeats = (0..a.len())
            .filter(|&k| {
                let near = |j: usize| (a[j] - a[k]).abs() <= 0.01 * a[k];
                (k > 0 && near(k - 1)) || (k + 1 < a.len() && near(k + 1))
            })
            .count();
        out[F::AdSiteRepeat30 as usize] = share(nf(repeats), nf(a.len()));
        let m = median(a);
        out[F::AdSiteMedian30 as usize] = if m.is_nan() { 0.0 } else { m };
    }
    // SE-2: lodging.
    out[F::LodgingCities30 as usize] = nf(distinct(&mut lodging_cities));
    out[F::LodgingSmallShare30 as usize] =
        share(f64::from(lodging_small), out[F::Lodging30 as usize]);
    out[F::LodgingMerchants7Max as usize] = max_distinct_in_span(&s.lodging, 7 * DAY, &mut s.count);
    // SE-3: sustenance basket.
    out[F::SustenanceCats30 as usize] = nf(sust_counts.iter().filter(|&&n| n >= 3).count());
    out[F::SustenanceRatio30 as usize] = if base_history && sust_base > 0.0 {
        out[F::SustenanceSpend30 as usize] / (sust_base / 6.0)
    } else {
        f64::NAN
    };
    // SE-6: prepaid -> crypto -> ad chain.
    out[F::PrepaidCryptoAd7 as usize] = {
        let mut level = 0.0f64;
        for &p in &prepaid_t {
            let b = crypto_t
                .iter()
                .copied()
                .find(|&b| b >= p && b - p <= 7 * DAY);
            if let Some(b) = b {
                level = level.max(1.0);
                if ad_t.iter().any(|&a| a >= b && a - p <= 7 * DAY) {
                    level = 2.0;
                    break;
                }
            }
        }
        level
    };

    cash_structure(rows, &s.cash, big_t, out);
    funnel(rows, win, cash_cities, out, &mut s.lags);
    pass_through(rows, win, w.w30, out, &mut s.queue, &mut s.fwd);
    fan_windows(rows, win, out, &mut s.fan);
    avoidance(rows, &legs[from(w.w7)..], big_t, out);

    // ---- longer windows -------------------------------------------------------------------
    let i35 = from(w.w35);
    let i60 = from(w.w60);
    let i90 = from(w.w90);
    let i365 = from(w.w365);
    {
        let (names, employers) = (&mut s.a, &mut s.b);
        names.clear();
        employers.clear();
        for &l in &legs[i35..] {
            let r = &rows[row_of(l)];
            if is_in(l) && r.completed() && r.has(flag::PAYROLL) {
                if let Some(n) = &cx.t.receiver_name
                    && n[global_row(l)] != NONE
                {
                    names.push(n[global_row(l)]);
                }
                if r.sender != NONE {
                    employers.push(r.sender);
                }
            }
        }
        out[F::PayrollNames35 as usize] = nf(distinct(names));
        out[F::PayrollEmployers35 as usize] = nf(distinct(employers));
    }
    s.travel.clear();
    for &l in &legs[i60..] {
        let r = &rows[row_of(l)];
        if !is_in(l) && r.completed() && r.mcc(mcc_bit::TRAVEL) {
            out[F::Travel60 as usize] += 1.0;
            s.travel.push((r.merchant, r.ts));
        }
    }
    out[F::TravelBurst60 as usize] = {
        s.travel.sort_unstable();
        let mut best = 0usize;
        let mut lo = 0usize;
        for hi in 0..s.travel.len() {
            while s.travel[lo].0 != s.travel[hi].0 || s.travel[hi].1 - s.travel[lo].1 > HOUR {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        nf(best)
    };
    for &l in &legs[i365..] {
        let r = &rows[row_of(l)];
        if !is_in(l) && r.completed() && r.mcc(mcc_bit::RECRUITMENT) {
            out[F::Recruitment365 as usize] += r.amount;
        }
    }
    listed_counterparties(cx, rows, &legs[i90..], w.w30, out);
    wage_sweeps(cx, rows, &global, entity, &legs[i90..], out, sweeps);
    crypto_small_sends(rows, &legs[i90..], out, &mut s.count);
    let activity = legs.len() - i_base;
    s.local = local;
    s.local_legs = local_legs;
    s.global = global;
    activity
}

/// Most distinct keys among `(time, key)` events (time-sorted) inside any span of `span`.
pub(crate) fn max_distinct_in_span(
    ev: &[(i64, u32)],
    span: i64,
    count: &mut HashMap<u32, u32>,
) -> f64 {
    count.clear();
    let mut best = 0usize;
    let mut lo = 0;
    for hi in 0..ev.len() {
        *count.entry(ev[hi].1).or_insert(0) += 1;
        while ev[hi].0 - ev[lo].0 > span {
            let k = ev[lo].1;
            if let Some(c) = count.get_mut(&k) {
                *c -= 1;
                if *c == 0 {
                    count.remove(&k);
                }
            }
            lo += 1;
        }
        best = best.max(count.len());
    }
    best as f64
}

/// ST-2: rolling 24-hour cash totals and split deposits.
fn cash_structure(rows: &[Row], cash: &[usize], big_t: f64, out: &mut [f64; N_FEATURES]) {
    let mut lo = 0;
    let mut sum = 0.0;
    let mut best = 0.0f64;
    let mut splits = 0u32;
    for hi in 0..cash.len() {
        let t = rows[cash[hi]].ts;
        sum += rows[cash[hi]].amount;
        while t - rows[cash[lo]].ts >= DAY {
            sum -= rows[cash[lo]].amount;
            lo += 1;
        }
        best = best.max(sum);
        let span = &cash[lo..=hi];
        if sum >= big_t && span.len() >= 2 && span.iter().all(|&i| rows[i].amount < big_t) {
            // At >= 2 places (location, else city) or channels among the pieces.
            let place = |r: &Row| {
                let p = if r.location != NONE {
                    (0u8, r.location)
                } else {
                    (1, r.city)
                };
                (p, r.channel)
            };
            let first = place(&rows[span[0]]);
            let varied = span.iter().any(|&i| place(&rows[i]) != first);
            if varied {
                splits += 1;
            }
        }
    }
    out[F::Cash24hMax as usize] = best;
    out[F::Split24h30 as usize] = f64::from(splits);
}

/// FN-1: debits made away from every cash-in city, and how fast they follow deposits.
fn funnel(
    rows: &[Row],
    win: &[u32],
    cash_cities: &[u32],
    out: &mut [f64; N_FEATURES],
    lags: &mut Vec<f64>,
) {
    let cash_in = out[F::CashInSum30 as usize];
    if cash_in <= 0.0 {
        out[F::RemoteOutRatio30 as usize] = f64::NAN;
        out[F::RemoteOutLagH30 as usize] = f64::NAN;
        return;
    }
    lags.clear();
    let mut remote = 0.0;
    let mut pending: Vec<i64> = Vec::new();
    for &l in win {
        let r = &rows[row_of(l)];
        if !r.completed() {
            continue;
        }
        let ch = r.channel();
        if is_in(l) && is_cash_in(ch) {
            pending.push(r.ts);
        } else if !is_in(l)
            && (is_cash_out(ch) || is_transfer(ch) || ch == Channel::Cheque)
            && (r.city == NONE || cash_cities.binary_search(&r.city).is_err())
        {
            remote += r.amount;
            for t in pending.drain(..) {
                lags.push((r.ts - t) as f64 / HOUR as f64);
            }
        }
    }
    out[F::RemoteOutRatio30 as usize] = remote / cash_in;
    out[F::RemoteOutLagH30 as usize] = median(lags);
}

/// PT-1: first-in-first-out matching of debits to credits of the last 72 hours, and the mean
/// daily running balance of the window's flows.
fn pass_through(
    rows: &[Row],
    win: &[u32],
    w30: i64,
    out: &mut [f64; N_FEATURES],
    queue: &mut std::collections::VecDeque<(i64, f64)>,
    fwd: &mut Vec<f64>,
) {
    queue.clear();
    fwd.clear();
    let mut matched = 0.0;
    let mut balance = 0.0f64;
    let mut day = 0i64;
    let mut balance_days = 0.0;
    for &l in win {
        let r = &rows[row_of(l)];
        if !r.completed() {
            continue;
        }
        let d = (r.ts - w30 - 1).div_euclid(DAY);
        while day < d.min(30) {
            balance_days += balance;
            day += 1;
        }
        if is_in(l) {
            queue.push_back((r.ts, r.amount));
            balance += r.amount;
            continue;
        }
        balance = (balance - r.amount).max(0.0);
        let mut need = r.amount;
        while need > 0.0 {
            let Some(front) = queue.front_mut() else {
                break;
            };
            if r.ts - front.0 > 72 * HOUR {
                queue.pop_front();
                continue;
            }
            let take = need.min(front.1);
            need -= take;
            front.1 -= take;
            matched += take;
            fwd.push((r.ts - front.0) as f64 / HOUR as f64);
            if front.1 <= 1e-9 {
                queue.pop_front();
            }
        }
    }
    while day < 30 {
        balance_days += balance;
        day += 1;
    }
    let credits = out[F::InSum30 as usize];
    out[F::PassThrough30 as usize] = share(matched, credits);
    out[F::ForwardMedianH30 as usize] = median(fwd);
    out[F::BalanceRatio30 as usize] = share(balance_days / 30.0, credits);
}

/// GR-1/GR-2: most distinct senders (receivers) of transfers inside any 7-day span of the
/// window (card purchases are not fan-out, nor card takings fan-in). Counterparties are
/// numbered 0..k among the window's own (`slots`), so the counts live in a dense array of k
/// entries that stays in cache, whatever the number of entities in the table.
fn fan_windows(rows: &[Row], win: &[u32], out: &mut [f64; N_FEATURES], s: &mut FanScratch) {
    let FanScratch {
        slots,
        names,
        dense,
    } = s;
    for (dir_in, f) in [(true, F::FanIn7Max), (false, F::FanOut7Max)] {
        let side = |l: u32| {
            let r = &rows[row_of(l)];
            let c = if dir_in { r.sender } else { r.receiver };
            if is_in(l) == dir_in && r.completed() && c != NONE && !is_card(r.channel()) {
                c
            } else {
                NONE
            }
        };
        slots.clear();
        slots.extend(win.iter().map(|&l| side(l)));
        names.clear();
        names.extend(slots.iter().copied().filter(|&c| c != NONE));
        names.sort_unstable();
        names.dedup();
        for c in slots.iter_mut().filter(|c| **c != NONE) {
            *c = names.partition_point(|&n| n < *c) as u32;
        }
        dense.clear();
        dense.resize(names.len(), 0);
        let ts = |k: usize| rows[row_of(win[k])].ts;
        let (mut best, mut distinct) = (0u32, 0u32);
        let mut lo = 0usize;
        for hi in 0..win.len() {
            let c = slots[hi];
            if c == NONE {
                continue;
            }
            let t = ts(hi);
            dense[c as usize] += 1;
            if dense[c as usize] == 1 {
                distinct += 1;
            }
            while lo < hi {
                let c_lo = slots[lo];
                if c_lo != NONE {
                    if t - ts(lo) <= 7 * DAY {
                        break;
                    }
                    dense[c_lo as usize] -= 1;
                    if dense[c_lo as usize] == 0 {
                        distinct -= 1;
                    }
                }
                lo += 1;
            }
            best = best.max(distinct);
        }
        out[f as usize] = f64::from(best);
    }
}

/// Reused buffers of [`fan_windows`].
#[derive(Default)]
struct FanScratch {
    /// Each window leg's counterparty, then its number among `names` ([`NONE`]: not counted).
    slots: Vec<u32>,
    /// The window's distinct counterparties, sorted.
    names: Vec<u32>,
    /// Legs of each counterparty inside the current 7-day span.
    dense: Vec<u32>,
}

/// ST-4: an abandoned transaction at or above T, then within 2 hours at least two completed
/// ones below T that add up to 80% of it.
fn avoidance(rows: &[Row], legs: &[u32], big_t: f64, out: &mut [f64; N_FEATURES]) {
    let mut n = 0u32;
    for (k, &l) in legs.iter().enumerate() {
        let r = &rows[row_of(l)];
        if r.completed() || r.amount < big_t {
            continue;
        }
        let (mut pieces, mut sum) = (0, 0.0);
        for &m in &legs[k + 1..] {
            let q = &rows[row_of(m)];
            if q.ts - r.ts > 2 * HOUR {
                break;
            }
            if q.completed() && q.amount < big_t && is_in(m) == is_in(l) {
                pieces += 1;
                sum += q.amount;
            }
        }
        if pieces >= 2 && sum >= 0.8 * r.amount {
            n += 1;
        }
    }
    out[F::Avoidance7 as usize] = f64::from(n);
}

/// LE-2: payroll credits of which 80% leave within 48 hours as cash or as transfers to another
/// customer.
/// `rows` and `legs` are the entity's local copies; `global` maps a local position to the
/// table's row (for the customer columns).
fn wage_sweeps(
    cx: &Ctx<'_>,
    rows: &[Row],
    global: &[u32],
    entity: u32,
    legs: &[u32],
    out: &mut [f64; N_FEATURES],
    sweeps: &mut Vec<(u32, u32)>,
) {
    let mut swept_flags: Vec<bool> = Vec::new();
    for (k, &l) in legs.iter().enumerate() {
        let r = &rows[row_of(l)];
        if !is_in(l) || !r.completed() || !r.has(flag::PAYROLL) {
            continue;
        }
        out[F::PayrollIn90 as usize] += 1.0;
        let own = cx.receiver_customer.map(|c| c[global[row_of(l)] as usize]);
        let mut gone = 0.0;
        let mark = sweeps.len();
        for &m in &legs[k + 1..] {
            let q = &rows[row_of(m)];
            if q.ts - r.ts > 48 * HOUR {
                break;
            }
            if is_in(m) || !q.completed() {
                continue;
            }
            let ch = q.channel();
            let other_customer = match (own, cx.receiver_customer) {
                (Some(o), Some(rc)) if o != NONE => rc[global[row_of(m)] as usize] != o,
                _ => true,
            };
            if is_cash_out(ch) {
                gone += q.amount;
            } else if is_transfer(ch) && other_customer && q.receiver != NONE {
                gone += q.amount;
                sweeps.push((q.receiver, entity));
            }
        }
        let swept = gone >= 0.8 * r.amount;
        if !swept {
            sweeps.truncate(mark);
        }
        swept_flags.push(swept);
    }
    out[F::WageSweeps90 as usize] = swept_flags.iter().filter(|s| **s).count() as f64;
    out[F::WageSweepsLast3 as usize] =
        swept_flags.iter().rev().take(3).filter(|s| **s).count() as f64;
}

/// CR-2, CR-4 and PT-3: transfers with counterparties that reference lists attribute.
fn listed_counterparties(
    cx: &Ctx<'_>,
    rows: &[Row],
    legs: &[u32],
    w30: i64,
    out: &mut [f64; N_FEATURES],
) {
    use crate::config::PartyCategory as P;
    let cat = |c: u32| {
        if c == NONE {
            0
        } else {
            cx.t.party_cat[c as usize]
        }
    };
    let (mut wires, mut wire_value, mut tppp_value) = (0u32, 0.0, 0.0);
    let mut exposures: Vec<(i64, f64)> = Vec::new();
    let mut obfuscation: Vec<(i64, f64)> = Vec::new();
    for &l in legs {
        let r = &rows[row_of(l)];
        if !r.completed() {
            continue;
        }
        let c = if is_in(l) { r.sender } else { r.receiver };
        let k = cat(c);
        if k == P::Illicit as u8 && !(is_in(l) && r.amount < cx.cfg.dust_threshold) {
            exposures.push((r.ts, r.amount));
        } else if k == P::Obfuscation as u8 {
            obfuscation.push((r.ts, r.amount));
        }
        let ch = r.channel();
        if r.ts > w30 && (is_transfer(ch) && ch != Channel::P2pApp) {
            wires += 1;
            wire_value += r.amount;
            if k == P::PaymentProcessor as u8 {
                tppp_value += r.amount;
            }
        }
    }
    out[F::IllicitExposure90 as usize] = exposures.len() as f64;
    let exposed: f64 = exposures.iter().map(|e| e.1).sum();
    out[F::IllicitValue90 as usize] = exposed;
    let near: f64 = obfuscation
        .iter()
        .filter(|(t, _)| exposures.iter().any(|(e, _)| (t - e).abs() <= 72 * HOUR))
        .map(|o| o.1)
        .sum();
    out[F::ObfuscationShare90 as usize] = if exposed > 0.0 {
        (near / exposed).min(1.0)
    } else {
        f64::NAN
    };
    out[F::Wires30 as usize] = f64::from(wires);
    out[F::TpppShare30 as usize] = share(tppp_value, wire_value);
}

/// CR-3: small crypto sends (10-100) repeated to one recipient, and how many at local
/// 23:00-05:00.
fn crypto_small_sends(
    rows: &[Row],
    legs: &[u32],
    out: &mut [f64; N_FEATURES],
    count: &mut HashMap<u32, u32>,
) {
    count.clear();
    let (mut n, mut night) = (0u32, 0u32);
    for &l in legs {
        let r = &rows[row_of(l)];
        if is_in(l) || !r.completed() || r.channel() != Channel::CryptoTransfer {
            continue;
        }
        if !(10.0..=100.0).contains(&r.amount) || r.receiver == NONE {
            continue;
        }
        n += 1;
        if r.local_min >= 23 * 60 || r.local_min < 5 * 60 {
            night += 1;
        }
        *count.entry(r.receiver).or_insert(0) += 1;
    }
    out[F::CryptoSmallSends90 as usize] = f64::from(count.values().copied().max().unwrap_or(0));
    out[F::CryptoSmallNight90 as usize] = share(f64::from(night), f64::from(n));
}
