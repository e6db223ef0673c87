//! Entity profiles: descriptive segments (channel mix, region, institution) that a run's
//! fairness report groups alert rates by. They describe how and where an entity transacts, never
//! who it is, and no rule or model reads them.

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use redflag_schema::Channel;
use redflag_schema::columns as col;

use crate::intern::NONE;
use crate::prepare::{Row, Txns};

/// Channel families, the values of [`Profiles::channel_mix`].
pub const CHANNEL_MIXES: [&str; 6] = ["cash", "card", "transfer", "p2p", "crypto", "other"];

fn family(c: Channel) -> usize {
    match c {
        _ if c.is_cash() => 0,
        Channel::CardPresent
        | Channel::CardNotPresent
        | Channel::PrepaidPurchase
        | Channel::PrepaidLoad => 1,
        Channel::Ach
        | Channel::WireDomestic
        | Channel::WireIntl
        | Channel::RemittanceMsb
        | Channel::Cheque
        | Channel::Internal => 2,
        Channel::P2pApp => 3,
        Channel::CryptoBuy | Channel::CryptoSell | Channel::CryptoTransfer => 4,
        _ => 5,
    }
}

/// Segments of every entity, one per row of `entity_features`, in its order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profiles {
    /// The channel family (an index into [`CHANNEL_MIXES`]) of most of the entity's
    /// transactions (ties: the first family).
    pub channel_mix: Vec<u8>,
    /// The `geo_region` of more than half of the entity's located transactions: an index into
    /// `region_names`; [`Profiles::MIXED`] when no region holds a majority, [`Profiles::UNKNOWN`]
    /// when none is located.
    pub region: Vec<u32>,
    /// Region names.
    pub region_names: Vec<String>,
    /// The entity's own institution (`sender_institution` of what it sends,
    /// `receiver_institution` of what it receives) on more than half of its transactions,
    /// as [`Profiles::region`].
    pub institution: Vec<u32>,
    /// Institution names.
    pub institution_names: Vec<String>,
}

impl Profiles {
    /// No value holds a majority.
    pub const MIXED: u32 = u32::MAX - 1;
    /// No value at all.
    pub const UNKNOWN: u32 = u32::MAX;

    /// The display name of a region or institution code.
    pub fn name(names: &[String], code: u32) -> &str {
        match code {
            Profiles::MIXED => "mixed",
            Profiles::UNKNOWN => "unknown",
            c => names.get(c as usize).map_or("unknown", String::as_str),
        }
    }
}

/// Majority vote (Boyer and Moore) per entity, then a count to keep only true majorities.
struct Vote<T> {
    candidate: Vec<Option<T>>,
    count: Vec<u32>,
}

impl<T: PartialEq + Copy> Vote<T> {
    fn new(n: usize) -> Self {
        Vote {
            candidate: vec![None; n],
            count: vec![0; n],
        }
    }

    fn see(&mut self, e: usize, v: T, same: impl Fn(T, T) -> bool) {
        match self.candidate[e] {
            Some(c) if same(c, v) => self.count[e] += 1,
            _ if self.count[e] == 0 => {
                self.candidate[e] = Some(v);
                self.count[e] = 1;
            }
            _ => self.count[e] -= 1,
        }
    }
}

/// For each entity: its candidate's occurrences and the located total, from a second pass.
fn confirm<T: Copy>(
    vote: &Vote<T>,
    rows: impl Iterator<Item = (usize, T)>,
    same: impl Fn(T, T) -> bool,
) -> Vec<(u32, u32)> {
    let mut tally = vec![(0u32, 0u32); vote.candidate.len()];
    for (e, v) in rows {
        tally[e].1 += 1;
        if vote.candidate[e].is_some_and(|c| same(c, v)) {
            tally[e].0 += 1;
        }
    }
    tally
}

fn majority(hits: u32, total: u32) -> Option<bool> {
    (total > 0).then_some(hits * 2 > total)
}

/// The sides of each row with their entities.
fn sides(rows: &[Row]) -> impl Iterator<Item = (usize, usize, bool)> + '_ {
    rows.iter().enumerate().flat_map(|(i, r)| {
        [(r.sender, false), (r.receiver, true)]
            .into_iter()
            .filter(|(e, _)| *e != NONE)
            .map(move |(e, recv)| (i, e as usize, recv))
    })
}

/// Account-level profiles (one per entity of `t`).
pub(crate) fn accounts(t: &Txns, batches: &[RecordBatch]) -> (Profiles, Vec<[u32; 6]>) {
    let n = t.entities.len();
    let mut mix = vec![[0u32; 6]; n];
    for (i, e, _) in sides(&t.rows) {
        mix[e][family(t.rows[i].channel())] += 1;
    }

    let mut region = vec![Profiles::UNKNOWN; n];
    if !t.region_names.is_empty() {
        let located = || {
            sides(&t.rows)
                .map(|(i, e, _)| (e, t.rows[i].region))
                .filter(|(_, r)| *r != NONE)
        };
        let mut vote = Vote::new(n);
        for (e, r) in located() {
            vote.see(e, r, |a, b| a == b);
        }
        for (e, (hits, total)) in confirm(&vote, located(), |a, b| a == b)
            .into_iter()
            .enumerate()
        {
            region[e] = match majority(hits, total) {
                Some(true) => vote.candidate[e].unwrap_or(Profiles::UNKNOWN),
                Some(false) => Profiles::MIXED,
                None => Profiles::UNKNOWN,
            };
        }
    }

    // Institutions are compared as text where they are (no interning of a column most rows
    // repeat): the vote keeps (batch, row, side) references.
    let columns: Vec<[Option<&StringArray>; 2]> = batches
        .iter()
        .map(|b| {
            [col::SENDER_INSTITUTION, col::RECEIVER_INSTITUTION]
                .map(|c| b.column_by_name(c).and_then(|a| a.as_string_opt::<i32>()))
        })
        .collect();
    let mut institution = vec![Profiles::UNKNOWN; n];
    let mut institution_names = Vec::new();
    if columns
        .iter()
        .flatten()
        .flatten()
        .any(|a| a.null_count() < a.len())
    {
        let mut starts = Vec::with_capacity(batches.len());
        let mut total = 0usize;
        for b in batches {
            starts.push(total);
            total += b.num_rows();
        }
        let at = |i: usize| {
            let b = starts.partition_point(|&s| s <= i) - 1;
            (b as u32, (i - starts[b]) as u32)
        };
        let text = |(b, i, recv): (u32, u32, bool)| -> Option<&str> {
            let a = columns[b as usize][usize::from(recv)]?;
            a.is_valid(i as usize).then(|| a.value(i as usize))
        };
        let same = |x: (u32, u32, bool), y: (u32, u32, bool)| text(x) == text(y);
        let own = || {
            sides(&t.rows).filter_map(|(i, e, recv)| {
                let (b, row) = at(i);
                let r = (b, row, recv);
                text(r).map(|_| (e, r))
            })
        };
        let mut vote = Vote::new(n);
        for (e, r) in own() {
            vote.see(e, r, same);
        }
        let tally = confirm(&vote, own(), same);
        let mut names: Vec<&str> = Vec::new();
        let mut winner: Vec<Option<&str>> = vec![None; n];
        for (e, &(hits, total)) in tally.iter().enumerate() {
            institution[e] = match majority(hits, total) {
                Some(true) => {
                    let name = vote.candidate[e].and_then(text).unwrap_or_default();
                    winner[e] = Some(name);
                    names.push(name);
                    0
                }
                Some(false) => Profiles::MIXED,
                None => Profiles::UNKNOWN,
            };
        }
        names.sort_unstable();
        names.dedup();
        for (e, w) in winner.iter().enumerate() {
            if let Some(w) = w {
                institution[e] = names.binary_search(w).unwrap_or_default() as u32;
            }
        }
        institution_names = names.into_iter().map(str::to_owned).collect();
    }
    let channel_mix = mix.iter().map(dominant).collect();
    (
        Profiles {
            channel_mix,
            region,
            region_names: t.region_names.clone(),
            institution,
            institution_names,
        },
        mix,
    )
}

fn dominant(counts: &[u32; 6]) -> u8 {
    let mut best = 0;
    for (f, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = f;
        }
    }
    best as u8
}

/// Appends customer profiles: channel counts summed over a customer's accounts; region and
/// institution those of its most active account.
pub(crate) fn add_customers(
    p: &mut Profiles,
    mix: &[[u32; 6]],
    holder_of_account: &[u32],
    n_customers: usize,
) {
    let mut sum = vec![[0u32; 6]; n_customers];
    let mut busiest: Vec<Option<(u32, usize)>> = vec![None; n_customers];
    for (a, &h) in holder_of_account.iter().enumerate() {
        if h == NONE {
            continue;
        }
        let h = h as usize;
        let total: u32 = mix[a].iter().sum();
        for f in 0..6 {
            sum[h][f] += mix[a][f];
        }
        if busiest[h].is_none_or(|(t, _)| total > t) {
            busiest[h] = Some((total, a));
        }
    }
    p.channel_mix.extend(sum.iter().map(dominant));
    for b in busiest {
        let pick = |v: &[u32]| b.map_or(Profiles::UNKNOWN, |(_, a)| v[a]);
        let (r, i) = (pick(&p.region), pick(&p.institution));
        p.region.push(r);
        p.institution.push(i);
    }
}
