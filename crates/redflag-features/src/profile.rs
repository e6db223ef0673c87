//! Entity profiles: descriptive segments (channel mix, region, institution) that a run's
//! fairness report groups alert rates by. They describe how and where an entity transacts, never
//! who it is, and no rule or model reads them.

use arrow::array::RecordBatch;
use redflag_schema::columns as col;
use redflag_schema::{CanonicalEnum, Channel, Text};

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
    /// `receiver_institution` of what it receives), the first reported: an index into
    /// `institution_names`, [`Profiles::UNKNOWN`] when none is.
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

/// Account-level profiles (one per entity of `t`), and each entity's transactions per channel
/// family (customers sum their accounts').
pub(crate) fn accounts(t: &Txns, batches: &[RecordBatch]) -> (Profiles, Vec<[u32; 6]>) {
    let n = t.entities.len();
    let located = !t.region_names.is_empty();
    let mut mix = vec![[0u32; 6]; n];
    let mut region = vec![Profiles::UNKNOWN; n];
    tally(&t.rows, located, |_| true, &mut mix, &mut region);
    let mut institutions = Institutions::new(n);
    let mut offset = 0usize;
    for b in batches {
        institutions.add(b, |i| {
            (t.rows[offset + i].sender, t.rows[offset + i].receiver)
        });
        offset += b.num_rows();
    }
    profiles(mix, region, institutions, &t.region_names)
}

/// Assembles the account profiles from [`tally`]'s and [`Institutions`]' results.
pub(crate) fn profiles(
    mix: Vec<[u32; 6]>,
    region: Vec<u32>,
    institutions: Institutions,
    region_names: &[String],
) -> (Profiles, Vec<[u32; 6]>) {
    let (institution, institution_names) = institutions.finish();
    let channel_mix = mix.iter().map(dominant).collect();
    (
        Profiles {
            channel_mix,
            region,
            region_names: region_names.to_vec(),
            institution,
            institution_names,
        },
        mix,
    )
}

/// Adds the channel mix of the entities `keep` admits, and sets their majority region, from
/// `rows` in input order (an entity's result needs only its own rows, in order).
pub(crate) fn tally(
    rows: &[Row],
    located: bool,
    keep: impl Fn(u32) -> bool,
    mix: &mut [[u32; 6]],
    region: &mut [u32],
) {
    let n = mix.len();
    let family_of: Vec<usize> = Channel::ALL.iter().map(|c| family(*c)).collect();
    let sides = |r: &Row| {
        [r.sender, r.receiver]
            .into_iter()
            .filter(|&e| e != NONE && keep(e))
    };
    // One pass: the channel mix, and a majority vote (Boyer and Moore) over located sides.
    let (mut cand, mut count) = (vec![NONE; n], vec![0u32; n]);
    for r in rows {
        let f = family_of[r.channel as usize];
        for e in sides(r) {
            let e = e as usize;
            mix[e][f] += 1;
            if located && r.region != NONE {
                if cand[e] == r.region {
                    count[e] += 1;
                } else if count[e] == 0 {
                    cand[e] = r.region;
                    count[e] = 1;
                } else {
                    count[e] -= 1;
                }
            }
        }
    }
    // A second pass keeps only true majorities.
    if located {
        let (mut hits, mut total) = (vec![0u32; n], vec![0u32; n]);
        for r in rows.iter().filter(|r| r.region != NONE) {
            for e in sides(r) {
                total[e as usize] += 1;
                hits[e as usize] += u32::from(cand[e as usize] == r.region);
            }
        }
        for e in (0..n).filter(|&e| keep(e as u32)) {
            region[e] = match total[e] {
                0 => Profiles::UNKNOWN,
                t if hits[e] * 2 > t => cand[e],
                _ => Profiles::MIXED,
            };
        }
    }
}

/// An account belongs to one institution: the first one reported for it (as sender, its
/// `sender_institution`; as receiver, its `receiver_institution`), read batch by batch so that
/// only one text per entity is kept.
pub(crate) struct Institutions {
    first: Vec<Option<String>>,
}

impl Institutions {
    pub fn new(n: usize) -> Self {
        Institutions {
            first: vec![None; n],
        }
    }

    /// The batches' columns this reads.
    pub const COLUMNS: [&'static str; 2] = [col::SENDER_INSTITUTION, col::RECEIVER_INSTITUTION];

    /// Reads the next batch of the input, `parties(i)` giving the sender and receiver codes of
    /// its row `i`.
    pub fn add(&mut self, b: &RecordBatch, parties: impl Fn(usize) -> (u32, u32)) {
        let cols = Self::COLUMNS.map(|c| b.column_by_name(c).and_then(|a| Text::of(a.as_ref())));
        if !cols.iter().flatten().any(|a| a.null_count() < a.len()) {
            return;
        }
        for i in 0..b.num_rows() {
            let (s, r) = parties(i);
            for (e, a) in [(s, cols[0]), (r, cols[1])] {
                if e == NONE || self.first[e as usize].is_some() {
                    continue;
                }
                if let Some(a) = a.filter(|a| a.is_valid(i)) {
                    self.first[e as usize] = Some(a.value(i).to_owned());
                }
            }
        }
    }

    /// Each entity's institution code, and the institution names.
    fn finish(self) -> (Vec<u32>, Vec<String>) {
        let mut names: Vec<&str> = self.first.iter().flatten().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let institution = self
            .first
            .iter()
            .map(|w| {
                w.as_deref().map_or(Profiles::UNKNOWN, |w| {
                    names.binary_search(&w).unwrap_or_default() as u32
                })
            })
            .collect();
        let names = names.into_iter().map(str::to_owned).collect();
        (institution, names)
    }
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
