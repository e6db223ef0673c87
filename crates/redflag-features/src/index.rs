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
    /// gives them ([`NONE`]: no leg). Rows whose two sides are the same entity are left out.
    pub fn build(rows: &[Row], n_entities: usize, side: impl Fn(usize) -> (u32, u32)) -> Legs {
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
        // Filling in (time, row) order leaves every entity's legs sorted. Inputs are usually
        // in time order already; only when not is a permutation sorted.
        let sorted = rows.par_windows(2).all(|w| w[0].ts <= w[1].ts);
        let order: Option<Vec<u32>> = (!sorted).then(|| {
            let mut o: Vec<u32> = (0..rows.len() as u32).collect();
            o.par_sort_unstable_by_key(|&i| (rows[i as usize].ts, i));
            o
        });
        let mut fill = offsets.clone();
        let mut legs = vec![0u32; offsets[n_entities]];
        for k in 0..rows.len() {
            let i = order.as_ref().map_or(k, |o| o[k] as usize);
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
