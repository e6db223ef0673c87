//! Each entity's transactions ("legs"), in time order: a compressed sparse row index.

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
    pub fn build(
        rows: &[Row],
        order: Option<&[u32]>,
        n_entities: usize,
        side: impl Fn(usize) -> (u32, u32),
    ) -> Legs {
        assert!(rows.len() < (1 << 31), "too many rows for the leg index");
        let mut offsets = vec![0usize; n_entities + 1];
        for i in 0..rows.len() {
            let (payer, payee) = side(i);
            if payer == payee {
                continue;
            }
            if payer != NONE {
                offsets[payer as usize + 1] += 1;
            }
            if payee != NONE {
                offsets[payee as usize + 1] += 1;
            }
        }
        for e in 0..n_entities {
            offsets[e + 1] += offsets[e];
        }
        let mut fill = offsets.clone();
        let mut legs = vec![0u32; offsets[n_entities]];
        for k in 0..rows.len() {
            let i = order.map_or(k, |o| o[k] as usize);
            let (payer, payee) = side(i);
            if payer == payee {
                continue;
            }
            if payer != NONE {
                let e = payer as usize;
                legs[fill[e]] = (i as u32) << 1;
                fill[e] += 1;
            }
            if payee != NONE {
                let e = payee as usize;
                legs[fill[e]] = ((i as u32) << 1) | IN;
                fill[e] += 1;
            }
        }
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
