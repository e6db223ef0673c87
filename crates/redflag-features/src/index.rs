//! Each entity's transactions ("legs"), in time order: a compressed sparse row index.

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use crate::intern::NONE;
use crate::prepare::Row;

/// A leg is `row << 1 | dir`, `dir` 0 when the entity paid (out) and 1 when it received (in).
pub(crate) const IN: u32 = 1;

/// The legs of every entity, each entity's legs sorted by time (then row).
pub(crate) struct Legs {
    offsets: Vec<usize>,
    legs: Vec<u32>,
}

impl Legs {
    /// Builds the index from each row's paying and receiving entity codes, as `side(row)`
    /// gives them ([`NONE`]: no leg), filling in `order` (see [`time_order`]). Rows whose two
    /// sides are the same entity are left out.
    ///
    /// A parallel counting sort: each thread counts, then fills, the legs of one contiguous
    /// range of `order`, into the places that the ranges before it leave free, so every
    /// entity's legs come out in `order` whatever the number of threads.
    pub fn build(
        rows: &[Row],
        order: Option<&[u32]>,
        n_entities: usize,
        side: impl Fn(usize) -> (u32, u32) + Sync,
    ) -> Legs {
        assert!(rows.len() < (1 << 31), "too many rows for the leg index");
        let n = rows.len();
        let parts = rayon::current_num_threads().clamp(1, 16);
        let step = n.div_ceil(parts).max(1);
        let range = |p: usize| (p * step).min(n)..((p + 1) * step).min(n);
        let row_at = |k: usize| order.map_or(k, |o| o[k] as usize);
        // The entities a row gives a leg to.
        let ends = |i: usize| {
            let (payer, payee) = side(i);
            if payer == payee {
                (NONE, NONE)
            } else {
                (payer, payee)
            }
        };
        // The entities of each row in `order`, read once: when `order` is not the storage
        // order (inputs grouped by customer or account), each read is a cache miss that the
        // count and the fill below would otherwise both pay. It holds 8 bytes a row while the
        // index is built, less than the legs it fills.
        let in_order: Option<Vec<(u32, u32)>> =
            order.map(|o| o.par_iter().map(|&i| ends(i as usize)).collect());
        let ends_at = |k: usize| in_order.as_ref().map_or_else(|| ends(k), |v| v[k]);
        let mut counts: Vec<Vec<u32>> = (0..parts)
            .into_par_iter()
            .map(|p| {
                let mut c = vec![0u32; n_entities];
                for k in range(p) {
                    let (payer, payee) = ends_at(k);
                    for e in [payer, payee] {
                        if e != NONE {
                            c[e as usize] += 1;
                        }
                    }
                }
                c
            })
            .collect();
        // Entity-major, range-minor: each count becomes where that range starts filling.
        let mut offsets = vec![0usize; n_entities + 1];
        let mut total = 0usize;
        for (e, offset) in offsets.iter_mut().enumerate().take(n_entities) {
            *offset = total;
            for c in &mut counts {
                let k = c[e] as usize;
                c[e] = total as u32;
                total += k;
            }
        }
        offsets[n_entities] = total;
        let legs: Vec<AtomicU32> = (0..total)
            .into_par_iter()
            .map(|_| AtomicU32::new(0))
            .collect();
        counts
            .into_par_iter()
            .enumerate()
            .for_each(|(p, mut fill)| {
                for k in range(p) {
                    let i = row_at(k);
                    let (payer, payee) = ends_at(k);
                    for (e, dir) in [(payer, 0), (payee, IN)] {
                        if e != NONE {
                            let at = &mut fill[e as usize];
                            legs[*at as usize].store(((i as u32) << 1) | dir, Ordering::Relaxed);
                            *at += 1;
                        }
                    }
                }
            });
        let legs = legs.into_iter().map(AtomicU32::into_inner).collect();
        Legs { offsets, legs }
    }

    /// The legs of entity `e`.
    pub fn of(&self, e: usize) -> &[u32] {
        &self.legs[self.offsets[e]..self.offsets[e + 1]]
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// The rows in (time, row) order, or `None` when they already are: filling legs in this order
/// leaves every entity's legs sorted. Inputs are often in time order already; extracts grouped
/// by account are not, and then the (time, row) pairs are sorted once, contiguously, for every
/// index built over the rows.
pub(crate) fn time_order(rows: &[Row]) -> Option<Vec<u32>> {
    if rows.par_windows(2).all(|w| w[0].ts <= w[1].ts) {
        return None;
    }
    let mut pairs: Vec<(i64, u32)> = rows
        .par_iter()
        .enumerate()
        .map(|(i, r)| (r.ts, i as u32))
        .collect();
    pairs.par_sort_unstable();
    Some(pairs.into_par_iter().map(|(_, i)| i).collect())
}

/// The row index of a leg.
#[inline]
pub(crate) fn row_of(leg: u32) -> usize {
    (leg >> 1) as usize
}

/// Whether the entity received on this leg.
#[inline]
pub(crate) fn is_in(leg: u32) -> bool {
    leg & IN != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each entity's legs by walking `order` one row at a time.
    fn reference(order: &[u32], sides: &[(u32, u32)], n_entities: usize) -> Vec<Vec<u32>> {
        let mut want = vec![Vec::new(); n_entities];
        for &i in order {
            let (s, r) = sides[i as usize];
            if s == r {
                continue;
            }
            if s != NONE {
                want[s as usize].push(i << 1);
            }
            if r != NONE {
                want[r as usize].push((i << 1) | IN);
            }
        }
        want
    }

    #[test]
    fn legs_follow_the_order_whatever_the_number_of_threads() {
        let (n, n_entities) = (5000usize, 300u64);
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Cash (NONE) on either side, and rows paid to oneself, which are left out.
        let sides: Vec<(u32, u32)> = (0..n)
            .map(|_| {
                let a = next();
                let s = if a % 11 == 0 {
                    NONE
                } else {
                    (a % n_entities) as u32
                };
                let r = match a {
                    _ if a % 13 == 0 => NONE,
                    _ if a % 17 == 0 => s,
                    _ => ((a >> 20) % n_entities) as u32,
                };
                (s, r)
            })
            .collect();
        let rows = vec![Row::default(); n];
        let mut shuffled: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            shuffled.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let identity: Vec<u32> = (0..n as u32).collect();
        for threads in [1, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            for (order, walk) in [(Some(shuffled.as_slice()), &shuffled), (None, &identity)] {
                let legs =
                    pool.install(|| Legs::build(&rows, order, n_entities as usize, |i| sides[i]));
                let want = reference(walk, &sides, n_entities as usize);
                assert_eq!(legs.len(), want.len());
                for (e, w) in want.iter().enumerate() {
                    assert_eq!(legs.of(e), w.as_slice(), "entity {e}, {threads} threads");
                }
            }
        }
    }
}
