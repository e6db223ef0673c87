//! The graph pass over the time-ordered transaction graph of the last 30 days (GR-1..GR-8).
//!
//! Nodes are account-level entities; an edge is one completed, non-cash transaction. Work per
//! node is bounded: a node contributes at most [`FeatureConfig::max_edges_per_node`] edges per
//! direction to the pattern searches (its most recent ones), a cycle search stops after
//! [`FeatureConfig::max_cycle_steps`] steps per start node, and nodes with more than 100
//! distinct senders (merchants, payment hubs) are not expanded as bipartite beneficiaries.

use hashbrown::HashMap;
use rayon::prelude::*;

use crate::catalog::{F, N_FEATURES};
use crate::config::{DAY, FeatureConfig, HOUR};
use crate::entity::max_distinct_in_span;
use crate::intern::NONE;
use crate::prepare::Txns;

/// One edge as seen from its source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub ts: i64,
    pub to: u32,
    pub amount: f64,
    /// The transaction's row in the table.
    pub row: u32,
}

/// A node of the 30-day graph, as the per-entity kernel hands it over.
#[derive(Debug, Default)]
pub(crate) struct NodeGraph {
    /// Out-edges, time-ordered (the most recent `max_edges_per_node`).
    pub out: Vec<Edge>,
    /// Distinct senders and receivers of the last 14 days, sorted.
    pub in14: Vec<u32>,
    pub out14: Vec<u32>,
    /// Distinct counterparties of graph edges (transfers, not card purchases or cash) in the
    /// 30 days.
    pub degree: u32,
}

/// Per node: out-edges and distinct counterparties of the window.
struct Graph {
    out: Vec<Vec<Edge>>,
    /// Distinct senders of the last 14 days (sorted), for bipartite blocks.
    in14: Vec<Vec<u32>>,
    out14: Vec<Vec<u32>>,
    /// Distinct transfer counterparties in the 30-day window.
    degree: Vec<u32>,
    /// Thin pass-through node: <= 3 counterparties and >= 70% forwarded within 72 h.
    thin: Vec<bool>,
    pass_through: Vec<f64>,
}

/// Holder customer of each row side, when the input has customer ids.
pub(crate) struct Holders<'a> {
    pub sender: &'a [u32],
    pub receiver: &'a [u32],
}

const MAX_BIPARTITE_SENDERS: usize = 100;
const MAX_BIPARTITE_RECEIVERS: usize = 50;
const MAX_CYCLES_PER_START: usize = 1000;

fn build(nodes: Vec<NodeGraph>, features: &[[f64; N_FEATURES]]) -> Graph {
    let mut g = Graph {
        out: Vec::with_capacity(nodes.len()),
        in14: Vec::with_capacity(nodes.len()),
        out14: Vec::with_capacity(nodes.len()),
        degree: Vec::with_capacity(nodes.len()),
        thin: Vec::with_capacity(nodes.len()),
        pass_through: Vec::with_capacity(nodes.len()),
    };
    for (n, f) in nodes.into_iter().zip(features) {
        let pt = f[F::PassThrough30 as usize];
        g.thin.push(n.degree <= 3 && pt >= 0.7);
        g.pass_through.push(pt);
        g.out.push(n.out);
        g.in14.push(n.in14);
        g.out14.push(n.out14);
        g.degree.push(n.degree);
    }
    g
}

/// Adds the graph features to the account-level feature rows.
pub(crate) fn graph_pass(
    nodes: Vec<NodeGraph>,
    features: &mut [[f64; N_FEATURES]],
    holders: Option<&Holders<'_>>,
    cfg: &FeatureConfig,
) {
    let g = build(nodes, features);
    let same_customer = |row: u32| {
        holders.is_some_and(|h| {
            let (s, r) = (h.sender[row as usize], h.receiver[row as usize]);
            s != NONE && s == r
        })
    };
    cycles(&g, features, cfg, &same_customer);
    scatter_gather(&g, features, &same_customer);
    chains(&g, features);
    bipartite(&g, features);
}

/// GR-5: time-respecting cycles of 2-6 hops, each hop 50-100% of the previous one. A cycle is
/// found once, from the source of its earliest edge.
fn cycles(
    g: &Graph,
    features: &mut [[f64; N_FEATURES]],
    cfg: &FeatureConfig,
    same_customer: &(dyn Fn(u32) -> bool + Sync),
) {
    // The last time each node was paid: a cycle from `s` must close before it, so no edge at
    // or after it can be part of one.
    let mut last_in = vec![i64::MIN; g.out.len()];
    for out in &g.out {
        for e in out {
            let t = &mut last_in[e.to as usize];
            *t = (*t).max(e.ts);
        }
    }
    let found: Vec<Vec<Vec<u32>>> = (0..g.out.len())
        .into_par_iter()
        .map(|s| {
            let mut cycles = Vec::new();
            let deadline = last_in[s];
            let mut path: Vec<(u32, u32)> = Vec::new(); // (node, row of the edge into it)
            let mut steps = 0usize;
            for e in g.out[s].iter().take_while(|e| e.ts < deadline) {
                if cycles.len() >= MAX_CYCLES_PER_START || steps >= cfg.max_cycle_steps {
                    break;
                }
                path.clear();
                path.push((s as u32, NONE));
                let mut search = CycleSearch {
                    g,
                    deadline,
                    start: s as u32,
                    path: &mut path,
                    cycles: &mut cycles,
                    steps: &mut steps,
                    cfg,
                    same_customer,
                };
                search.dfs(*e);
            }
            cycles
        })
        .collect();
    for cycles in found {
        for c in cycles {
            let len = c.len() as f64;
            for n in c {
                let f = &mut features[n as usize];
                f[F::Cycles30 as usize] = (f[F::Cycles30 as usize] + 1.0).min(1000.0);
                let m = &mut f[F::CycleMinLen30 as usize];
                if *m == 0.0 || len < *m {
                    *m = len;
                }
            }
        }
    }
}

/// One start node's depth-first search for time-respecting, decaying cycles.
struct CycleSearch<'a, 'b> {
    g: &'a Graph,
    /// The start node's last payment in: every edge of a cycle comes before it.
    deadline: i64,
    start: u32,
    path: &'b mut Vec<(u32, u32)>,
    cycles: &'b mut Vec<Vec<u32>>,
    steps: &'b mut usize,
    cfg: &'a FeatureConfig,
    same_customer: &'a (dyn Fn(u32) -> bool + Sync),
}

impl CycleSearch<'_, '_> {
    const MAX_HOPS: usize = 6;

    fn dfs(&mut self, e: Edge) {
        *self.steps += 1;
        if *self.steps > self.cfg.max_cycle_steps || self.cycles.len() >= MAX_CYCLES_PER_START {
            return;
        }
        if e.to == self.start {
            if self.path.len() >= 2 {
                let internal = self.path[1..]
                    .iter()
                    .all(|(_, row)| (self.same_customer)(*row))
                    && (self.same_customer)(e.row);
                if !internal {
                    self.cycles
                        .push(self.path.iter().map(|(n, _)| *n).collect());
                }
            }
            return;
        }
        if self.path.len() >= Self::MAX_HOPS || self.path.iter().any(|(n, _)| *n == e.to) {
            return;
        }
        self.path.push((e.to, e.row));
        let (g, deadline) = (self.g, self.deadline);
        let next = &g.out[e.to as usize];
        let from = next.partition_point(|x| x.ts <= e.ts);
        for x in next[from..].iter().take_while(|x| x.ts <= deadline) {
            if x.amount >= 0.5 * e.amount && x.amount <= e.amount {
                self.dfs(*x);
            }
        }
        self.path.pop();
    }
}

/// GR-3: A -> {m1..mk} -> B, k >= 3 inside 14 days, each mi thin and forwarding >= 80% of what
/// A sent it to B within 72 hours.
fn scatter_gather(
    g: &Graph,
    features: &mut [[f64; N_FEATURES]],
    same_customer: &(dyn Fn(u32) -> bool + Sync),
) {
    // (originator, [(beneficiary, intermediaries)])
    type Hits = (u32, Vec<(u32, Vec<u32>)>);
    let hits: Vec<Hits> = (0..g.out.len())
        .into_par_iter()
        .filter_map(|a| {
            if g.out[a].len() < 3 {
                return None;
            }
            // (B, time A paid m, m)
            let mut reach: Vec<(u32, i64, u32)> = Vec::new();
            for e in &g.out[a] {
                let m = e.to as usize;
                if g.degree[m] > 3 || same_customer(e.row) || m == a {
                    continue;
                }
                let mut to_b: HashMap<u32, f64> = HashMap::new();
                let next = &g.out[m];
                let from = next.partition_point(|x| x.ts <= e.ts);
                for x in next[from..].iter().take_while(|x| x.ts - e.ts <= 72 * HOUR) {
                    if x.to as usize != a {
                        *to_b.entry(x.to).or_insert(0.0) += x.amount;
                    }
                }
                for (b, v) in to_b {
                    if v >= 0.8 * e.amount {
                        reach.push((b, e.ts, e.to));
                    }
                }
            }
            reach.sort_unstable_by_key(|&(b, t, m)| (b, t, m));
            let mut out = Vec::new();
            let mut count = HashMap::new();
            for group in reach.chunk_by(|x, y| x.0 == y.0) {
                let ev: Vec<(i64, u32)> = group.iter().map(|&(_, t, m)| (t, m)).collect();
                if max_distinct_in_span(&ev, 14 * DAY, &mut count) >= 3.0 {
                    let mut ms: Vec<u32> = group.iter().map(|x| x.2).collect();
                    ms.sort_unstable();
                    ms.dedup();
                    out.push((group[0].0, ms));
                }
            }
            (!out.is_empty()).then_some((a as u32, out))
        })
        .collect();
    for (a, sinks) in hits {
        features[a as usize][F::SgSource as usize] += sinks.len() as f64;
        for (b, ms) in sinks {
            features[b as usize][F::SgSink as usize] += 1.0;
            for m in ms {
                features[m as usize][F::SgIntermediary as usize] = 1.0;
            }
        }
    }
}

/// GR-4: within 14 days of a credit, >= 3 distinct senders and >= 3 distinct later receivers,
/// disjoint, paid out >= 80% of what came in. One sliding window over the node's 30-day
/// transactions: O(transactions) with counts. (Per node, so the entity kernel runs it.)
#[derive(Default)]
pub(crate) struct GatherWindow {
    /// (time, incoming, counterparty, amount), time-ordered.
    pub win: Vec<(i64, bool, u32, f64)>,
    senders: HashMap<u32, u32>,
    receivers: HashMap<u32, u32>,
}

impl GatherWindow {
    pub fn any_window(&mut self) -> bool {
        let (senders, receivers) = (&mut self.senders, &mut self.receivers);
        senders.clear();
        receivers.clear();
        // Counterparties present on both sides of the current window.
        let mut both = 0usize;
        let (mut in_sum, mut out_sum) = (0.0, 0.0);
        let win = &self.win;
        let (mut lo, mut hi) = (0usize, 0usize);
        for start in 0..win.len() {
            let (t0, incoming, _, _) = win[start];
            if !incoming {
                continue;
            }
            // Drop everything before the new start.
            while lo < start {
                let (_, inc, c, a) = win[lo];
                if lo < hi {
                    let (mine, other) = if inc {
                        in_sum -= a;
                        (&mut *senders, &*receivers)
                    } else {
                        out_sum -= a;
                        (&mut *receivers, &*senders)
                    };
                    if let Some(n) = mine.get_mut(&c) {
                        *n -= 1;
                        if *n == 0 {
                            mine.remove(&c);
                            if other.contains_key(&c) {
                                both -= 1;
                            }
                        }
                    }
                }
                lo += 1;
            }
            hi = hi.max(lo);
            while hi < win.len() && win[hi].0 - t0 <= 14 * DAY {
                let (_, inc, c, a) = win[hi];
                let (mine, other) = if inc {
                    in_sum += a;
                    (&mut *senders, &*receivers)
                } else {
                    out_sum += a;
                    (&mut *receivers, &*senders)
                };
                let n = mine.entry(c).or_insert(0);
                *n += 1;
                if *n == 1 && other.contains_key(&c) {
                    both += 1;
                }
                hi += 1;
            }
            if senders.len() >= 3 && receivers.len() >= 3 && both == 0 && out_sum >= 0.8 * in_sum {
                return true;
            }
        }
        false
    }
}

/// GR-7: the longest time-respecting chain through each node whose inner nodes are thin and
/// forward >= 70% of what they received within 72 hours.
fn chains(g: &Graph, features: &mut [[f64; N_FEATURES]]) {
    const KEEP: usize = 16;
    // A chain longer than one hop passes through a thin node, so only edges that touch one
    // need ordering; every other node with an edge has a one-hop chain.
    let mut edges: Vec<(i64, u32, u32, f64)> = Vec::new();
    for (u, out) in g.out.iter().enumerate() {
        if !out.is_empty() {
            features[u][F::ChainHops30 as usize] = 1.0;
        }
        for e in out {
            features[e.to as usize][F::ChainHops30 as usize] = 1.0;
            if g.thin[u] || g.thin[e.to as usize] {
                edges.push((e.ts, u as u32, e.to, e.amount));
            }
        }
    }
    edges.sort_unstable_by_key(|e| (e.0, e.1, e.2));
    let n = g.out.len();
    // Forward: hops of the longest chain ending with each edge.
    let mut arrivals: Vec<Vec<(i64, u32, f64)>> = vec![Vec::new(); n];
    let mut fwd = vec![1u32; edges.len()];
    for (k, &(ts, u, v, a)) in edges.iter().enumerate() {
        if g.thin[u as usize] {
            fwd[k] = 1 + arrivals[u as usize]
                .iter()
                .filter(|x| x.0 < ts && ts - x.0 <= 72 * HOUR && a >= 0.7 * x.2)
                .map(|x| x.1)
                .max()
                .unwrap_or(0);
        }
        if !g.thin[v as usize] {
            continue;
        }
        let arr = &mut arrivals[v as usize];
        if arr.len() == KEEP {
            arr.remove(0);
        }
        arr.push((ts, fwd[k], a));
    }
    // Backward: hops of the longest chain starting with each edge.
    let mut departures: Vec<Vec<(i64, u32, f64)>> = vec![Vec::new(); n];
    let mut bwd = vec![1u32; edges.len()];
    for (k, &(ts, u, v, a)) in edges.iter().enumerate().rev() {
        if g.thin[v as usize] {
            bwd[k] = 1 + departures[v as usize]
                .iter()
                .filter(|y| y.0 > ts && y.0 - ts <= 72 * HOUR && y.2 >= 0.7 * a)
                .map(|y| y.1)
                .max()
                .unwrap_or(0);
        }
        if !g.thin[u as usize] {
            continue;
        }
        let dep = &mut departures[u as usize];
        if dep.len() == KEEP {
            dep.remove(0);
        }
        dep.push((ts, bwd[k], a));
    }
    for (k, &(_, u, v, _)) in edges.iter().enumerate() {
        let hops = f64::from(fwd[k] + bwd[k] - 1);
        for node in [u, v] {
            let f = &mut features[node as usize][F::ChainHops30 as usize];
            *f = f.max(hops);
        }
    }
}

/// GR-6: dense bipartite blocks (|O| >= 2, |B| >= 3, density >= 0.6) in the last 14 days, and
/// stacks: a beneficiary of one block that originates another and forwards >= 70%.
fn bipartite(g: &Graph, features: &mut [[f64; N_FEATURES]]) {
    let blocks: Vec<(Vec<u32>, Vec<u32>)> = (0..g.out.len())
        .into_par_iter()
        .filter_map(|o| {
            let bo = &g.out14[o];
            if bo.len() < 3 || bo.len() > MAX_BIPARTITE_RECEIVERS {
                return None;
            }
            let need = ((0.6 * bo.len() as f64).ceil() as u32).max(2);
            let mut co: HashMap<u32, u32> = HashMap::new();
            for &b in bo {
                let senders = &g.in14[b as usize];
                if senders.len() > MAX_BIPARTITE_SENDERS {
                    continue;
                }
                for &s in senders {
                    *co.entry(s).or_insert(0) += 1;
                }
            }
            let mut origin: Vec<u32> = co
                .iter()
                .filter(|&(s, n)| {
                    *n >= need && g.out14[*s as usize].len() <= MAX_BIPARTITE_RECEIVERS
                })
                .map(|(s, _)| *s)
                .collect();
            origin.sort_unstable();
            // Report each block once, from its smallest originator.
            if origin.len() < 2 || origin[0] != o as u32 {
                return None;
            }
            let min_in = (0.6 * origin.len() as f64).ceil() as usize;
            let bens: Vec<u32> = bo
                .iter()
                .copied()
                .filter(|b| {
                    let s = &g.in14[*b as usize];
                    origin.iter().filter(|o| s.binary_search(o).is_ok()).count() >= min_in
                })
                .collect();
            if bens.len() < 3 {
                return None;
            }
            let edges: usize = origin
                .iter()
                .map(|o| {
                    bens.iter()
                        .filter(|b| g.out14[*o as usize].binary_search(b).is_ok())
                        .count()
                })
                .sum();
            let density = edges as f64 / (origin.len() * bens.len()) as f64;
            (density >= 0.6).then_some((origin, bens))
        })
        .collect();
    let mut is_origin = vec![false; g.out.len()];
    let mut is_ben = vec![false; g.out.len()];
    for (origin, bens) in &blocks {
        let size = (origin.len() + bens.len()) as f64;
        for &n in origin.iter().chain(bens) {
            let f = &mut features[n as usize][F::Bipartite30 as usize];
            *f = f.max(size);
        }
        for &n in origin {
            is_origin[n as usize] = true;
        }
        for &n in bens {
            is_ben[n as usize] = true;
        }
    }
    for (n, f) in features.iter_mut().enumerate() {
        if is_origin[n] && is_ben[n] && g.pass_through[n] >= 0.7 {
            f[F::Stack30 as usize] = 1.0;
        }
    }
}

/// GR-8 and FN-3: clusters of holders joined through shared devices and IP addresses (and
/// IPv4 /24 prefixes), and conductors operating several holders' accounts.
pub(crate) fn identifiers(
    t: &Txns,
    features: &mut [[f64; N_FEATURES]],
    holder_of_account: &[u32],
    n_holders: usize,
    cfg: &FeatureConfig,
) {
    let w30 = t.as_of - 30 * DAY;
    let in_window = |i: usize| t.rows[i].ts > w30 && t.rows[i].ts <= t.as_of;
    // The holder behind a row's online session: the paying account's holder.
    let holder = |i: usize| {
        let s = t.rows[i].sender;
        if s == NONE {
            NONE
        } else {
            holder_of_account[s as usize]
        }
    };
    if t.device.is_some() || t.ip.is_some() {
        // identifier key -> holders, identifiers being device / ip codes and /24 prefixes.
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        let mut prefixes: HashMap<&str, u32> = HashMap::new();
        for i in 0..t.rows.len() {
            if !in_window(i) {
                continue;
            }
            let h = holder(i);
            if h == NONE {
                continue;
            }
            if let Some(d) = &t.device
                && d[i] != NONE
            {
                pairs.push((u64::from(d[i]), h));
            }
            if let Some(ip) = &t.ip
                && ip[i] != NONE
            {
                pairs.push((u64::from(ip[i]), h));
                let text = t.ip_names[ip[i] as usize].as_str();
                if text.bytes().filter(|b| *b == b'.').count() == 3
                    && let Some(dot) = text.rfind('.')
                {
                    let next = prefixes.len() as u32;
                    let p = *prefixes.entry(&text[..dot]).or_insert(next);
                    pairs.push(((1 << 32) | u64::from(p), h));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut parent: Vec<u32> = (0..n_holders as u32).collect();
        fn find(p: &mut [u32], mut x: u32) -> u32 {
            while p[x as usize] != x {
                p[x as usize] = p[p[x as usize] as usize];
                x = p[x as usize];
            }
            x
        }
        for group in pairs.chunk_by(|a, b| a.0 == b.0) {
            if group.len() < 2 || group.len() > cfg.max_identifier_sharing {
                continue;
            }
            let root = find(&mut parent, group[0].1);
            for &(_, h) in &group[1..] {
                let r = find(&mut parent, h);
                if r != root {
                    parent[r as usize] = root;
                }
            }
        }
        let mut size = vec![0u32; n_holders];
        for h in 0..n_holders as u32 {
            let r = find(&mut parent, h);
            size[r as usize] += 1;
        }
        for (a, f) in features.iter_mut().enumerate() {
            let h = holder_of_account[a];
            f[F::SharedIdCluster30 as usize] = if h == NONE {
                1.0
            } else {
                f64::from(size[find(&mut parent, h) as usize])
            };
        }
    } else {
        for f in features.iter_mut() {
            f[F::SharedIdCluster30 as usize] = 1.0;
        }
    }

    if let Some(cond) = &t.conductor {
        // (conductor, account) for cash movements by someone other than the holder.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (i, r) in t.rows.iter().enumerate() {
            if !in_window(i) || !r.is_cash() || cond[i] == NONE {
                continue;
            }
            let account = if r.sender != NONE {
                r.sender
            } else {
                r.receiver
            };
            // Conductor and customer codes share a code space only when customers exist.
            if account == NONE
                || (t.customers.is_some() && holder_of_account[account as usize] == cond[i])
            {
                continue;
            }
            pairs.push((cond[i], account));
        }
        pairs.sort_unstable();
        pairs.dedup();
        for group in pairs.chunk_by(|a, b| a.0 == b.0) {
            // Accounts of different holders this conductor operated.
            let mut hs: Vec<u32> = group
                .iter()
                .map(|&(_, a)| holder_of_account[a as usize])
                .collect();
            hs.sort_unstable();
            hs.dedup();
            let n = hs.len() as f64;
            for &(_, a) in group {
                let f = &mut features[a as usize][F::ConductorAccounts30 as usize];
                *f = f.max(n);
            }
        }
    }
}
