//! The transactions of a feature pass, kept by entity row for the stages after it.

use redflag_schema::Channel;

use crate::intern::NONE;
use crate::prepare::Row;

/// The transactions as the feature pass read them, with every party already resolved to its
/// row of [`EntityFeatures::batch`](crate::EntityFeatures::batch).
///
/// Later stages that follow money between entities (case links, evidence, the money-flow
/// graph of a report) read this instead of looking identifier text up again: transaction `i`
/// is row `i` of the input batches taken in order ([`Ledger::locate`] finds it), and every
/// party is a number. A stage that reads only a time window can cut the ledger down to it
/// ([`Ledger::keep_between`]); transactions keep their order and their place in the input.
#[derive(Clone, Default)]
pub struct Ledger {
    rows: Vec<Row>,
    /// Customer codes of each row's sender and receiver, when the input names customers.
    customers: Option<(Vec<u32>, Vec<u32>)>,
    /// Account-level entities: rows `0..n_accounts` of the table; customers follow.
    n_accounts: usize,
    /// First transaction of each input batch.
    starts: Vec<usize>,
    /// Row in its input batch of each transaction, once [`Ledger::keep_between`] has dropped
    /// some (before that, transaction `i` is row `i - starts[b]`).
    origin: Option<Vec<u32>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("transactions", &self.rows.len())
            .field("accounts", &self.n_accounts)
            .field("customers", &self.customers.is_some())
            .finish()
    }
}

fn row_of(code: u32, base: usize) -> Option<usize> {
    (code != NONE).then(|| base + code as usize)
}

impl Ledger {
    pub(crate) fn new(
        rows: Vec<Row>,
        customers: Option<(Vec<u32>, Vec<u32>)>,
        n_accounts: usize,
        batch_lens: impl IntoIterator<Item = usize>,
    ) -> Ledger {
        let mut starts = Vec::new();
        let mut total = 0;
        for n in batch_lens {
            starts.push(total);
            total += n;
        }
        Ledger {
            rows,
            customers,
            n_accounts,
            starts,
            origin: None,
        }
    }

    /// A ledger already cut to a window (as [`Ledger::keep_between`] leaves one): `rows` are
    /// the kept transactions in input order, `global[k]` the input row of `rows[k]`, and
    /// `batch_starts` the first input row of each input batch.
    pub(crate) fn windowed(
        rows: Vec<Row>,
        customers: Option<(Vec<u32>, Vec<u32>)>,
        n_accounts: usize,
        batch_starts: &[usize],
        global: &[u32],
    ) -> Ledger {
        let mut starts = Vec::with_capacity(batch_starts.len());
        let mut origin = Vec::with_capacity(global.len());
        let mut k = 0;
        for (b, &first) in batch_starts.iter().enumerate() {
            let end = batch_starts.get(b + 1).copied().unwrap_or(usize::MAX);
            starts.push(k);
            while k < global.len() && (global[k] as usize) < end {
                origin.push((global[k] as usize - first) as u32);
                k += 1;
            }
        }
        Ledger {
            rows,
            customers,
            n_accounts,
            starts,
            origin: Some(origin),
        }
    }

    /// Keeps only the transactions with `from < ts <= to`, in their order, and hands the
    /// memory of the others back. Each kept transaction is still [`located`](Ledger::locate)
    /// at its row of its input batch, and [`batches`](Ledger::batches) still yields one range
    /// per input batch (empty when none of its transactions is kept).
    pub fn keep_between(&mut self, from: i64, to: i64) {
        if self.batches().any(|r| r.len() > u32::MAX as usize) {
            // Rows in a batch are numbered in 32 bits below; a batch this large keeps them all.
            return;
        }
        let mut origin = Vec::new();
        let mut starts = Vec::with_capacity(self.starts.len());
        let mut kept = 0;
        let ranges: Vec<std::ops::Range<usize>> = self.batches().collect();
        for range in ranges {
            starts.push(kept);
            for i in range.clone() {
                if self.rows[i].ts > from && self.rows[i].ts <= to {
                    let row = self.row_in_batch(i, i - range.start);
                    self.rows[kept] = self.rows[i];
                    if let Some((s, r)) = &mut self.customers {
                        s[kept] = s[i];
                        r[kept] = r[i];
                    }
                    origin.push(row as u32);
                    kept += 1;
                }
            }
        }
        self.rows.truncate(kept);
        self.rows.shrink_to_fit();
        if let Some((s, r)) = &mut self.customers {
            for v in [s, r] {
                v.truncate(kept);
                v.shrink_to_fit();
            }
        }
        origin.shrink_to_fit();
        self.starts = starts;
        self.origin = Some(origin);
    }

    /// Row in its input batch of transaction `i`, the `k`th of that batch in this ledger.
    fn row_in_batch(&self, i: usize, k: usize) -> usize {
        self.origin.as_ref().map_or(k, |origin| origin[i] as usize)
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No transactions.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Transactions `start..end` of each input batch, in order.
    pub fn batches(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let ends = self.starts.iter().skip(1).copied().chain([self.rows.len()]);
        self.starts.iter().copied().zip(ends).map(|(s, e)| s..e)
    }

    /// The input batch and the row in it of transaction `i`.
    pub fn locate(&self, i: usize) -> (usize, usize) {
        let (b, k) = self.position(i);
        (b, self.row_in_batch(i, k))
    }

    /// The input batch of transaction `i` and its place among that batch's transactions in
    /// this ledger (its row in the batch until [`Ledger::keep_between`] drops some; after that,
    /// its place among the kept ones, so an array of the kept rows' values lines up with it).
    pub fn position(&self, i: usize) -> (usize, usize) {
        let b = self.starts.partition_point(|&s| s <= i) - 1;
        (b, i - self.starts[b])
    }

    /// Timestamp (UTC microseconds).
    pub fn ts(&self, i: usize) -> i64 {
        self.rows[i].ts
    }

    /// `amount_base`.
    pub fn amount(&self, i: usize) -> f64 {
        self.rows[i].amount
    }

    /// A card purchase: shopping, not a money flow between parties.
    pub fn is_card(&self, i: usize) -> bool {
        matches!(
            self.rows[i].channel(),
            Channel::CardPresent | Channel::CardNotPresent
        )
    }

    /// Entity rows of the sender and the receiver (`None` for cash).
    pub fn parties(&self, i: usize) -> (Option<usize>, Option<usize>) {
        let r = &self.rows[i];
        (row_of(r.sender, 0), row_of(r.receiver, 0))
    }

    /// Entity rows of the sender's and the receiver's customers (`None` when not given).
    pub fn customers(&self, i: usize) -> (Option<usize>, Option<usize>) {
        match &self.customers {
            Some((s, r)) => (row_of(s[i], self.n_accounts), row_of(r[i], self.n_accounts)),
            None => (None, None),
        }
    }

    /// Whether the table has customer rows (the input named customers).
    pub fn has_customers(&self) -> bool {
        self.customers.is_some()
    }
}
