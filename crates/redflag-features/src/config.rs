//! What the feature pass needs to know besides the transactions: windows end, thresholds,
//! merchant-category groups and the reference lists it matches against.

use std::collections::{BTreeMap, BTreeSet};

/// Microseconds in an hour.
pub const HOUR: i64 = 3_600_000_000;
/// Microseconds in a day.
pub const DAY: i64 = 24 * HOUR;

/// Merchant-category groups the features use (`docs/INDICATORS.md` §3). Each entry is an
/// inclusive code range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MccGroups {
    /// Ad and escort-ad sites (SE-1).
    pub ad_site: Vec<(u16, u16)>,
    /// Hotels, motels, lodging chains (SE-2).
    pub lodging: Vec<(u16, u16)>,
    /// Sustenance categories (SE-3), one range list per category; lodging is added to them.
    pub sustenance: Vec<Vec<(u16, u16)>>,
    /// Adult-service-type venues (SE-4).
    pub adult_venue: Vec<(u16, u16)>,
    /// Travel and government fees (LE-4).
    pub travel: Vec<(u16, u16)>,
    /// Employment and recruitment agencies (LE-3).
    pub recruitment: Vec<(u16, u16)>,
    /// Quasi-cash, where card-funded crypto purchases are often coded (SE-6, CR-1).
    pub quasi_cash: Vec<(u16, u16)>,
}

impl Default for MccGroups {
    fn default() -> Self {
        let one = |c: u16| (c, c);
        MccGroups {
            ad_site: vec![one(7311), one(7273)],
            lodging: vec![one(7011), (3501, 3999)],
            sustenance: vec![
                vec![one(5814)],
                vec![one(5912)],
                vec![one(5977)],
                vec![one(5621), one(5631)],
                vec![one(7230), one(7298)],
                vec![one(4121)],
            ],
            adult_venue: vec![one(7297), one(7298), one(7230), one(7273), one(5813)],
            travel: vec![
                (3000, 3299),
                one(4511),
                one(4112),
                one(4131),
                one(4722),
                one(9399),
            ],
            recruitment: vec![one(7361), one(8299)],
            quasi_cash: vec![one(6051)],
        }
    }
}

/// Settings of one feature pass.
#[derive(Debug, Clone)]
pub struct FeatureConfig {
    /// End of every window, UTC microseconds; `None` means the latest timestamp in the input.
    pub as_of: Option<i64>,
    /// The cash-reporting threshold T in the base currency (ST-1, ST-2, FN-1).
    pub cash_threshold: f64,
    /// Local offset (minutes) assumed when a row has no `local_offset_min`.
    pub default_offset_min: i16,
    /// Merchant-category groups.
    pub mcc: MccGroups,
    /// Lower-case substrings of `merchant_name` that mark an ad site (SE-1).
    pub ad_site_merchants: Vec<String>,
    /// Lower-case substrings of `merchant_name` that mark a short-term rental (SE-2).
    pub short_term_rental_merchants: Vec<String>,
    /// `purpose_code` values that mark a payroll credit (LE-1, LE-2), upper case.
    pub payroll_purpose_codes: BTreeSet<String>,
    /// Party ids of payroll processors and employers whose credits count as payroll.
    pub payroll_originators: BTreeSet<String>,
    /// Corridor countries (ISO alpha-2) for `corridor_out_share_30d`. Empty by default: country
    /// lists only ever raise severity and are loaded from the reference lists.
    pub corridors: BTreeSet<String>,
    /// Counterparties attributed by reference lists (wallet addresses or clusters, processor
    /// party ids): id -> category.
    pub party_categories: BTreeMap<String, PartyCategory>,
    /// Incoming transfers from an illicit-listed address below this amount are dust and
    /// ignored (CR-2).
    pub dust_threshold: f64,
    /// Graph pass: edges considered per node and direction (the most recent ones).
    pub max_edges_per_node: usize,
    /// Graph pass: cycle-search steps per start node.
    pub max_cycle_steps: usize,
    /// Shared identifiers used by more than this many customers are ignored (carrier NAT,
    /// public Wi-Fi, shelters, bank kiosks; GR-8).
    pub max_identifier_sharing: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            as_of: None,
            cash_threshold: 10_000.0,
            default_offset_min: 0,
            mcc: MccGroups::default(),
            ad_site_merchants: vec!["backpage".into()],
            short_term_rental_merchants: Vec::new(),
            payroll_purpose_codes: ["SALA", "PAYR", "PPD", "BONU", "PENS"]
                .into_iter()
                .map(String::from)
                .collect(),
            payroll_originators: BTreeSet::new(),
            corridors: BTreeSet::new(),
            party_categories: BTreeMap::new(),
            dust_threshold: 1.0,
            max_edges_per_node: 256,
            max_cycle_steps: 20_000,
            max_identifier_sharing: 50,
        }
    }
}

/// What a reference list says a counterparty is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum PartyCategory {
    /// Darknet market, CSAM vendor, escort or ad service, guarantee marketplace, sanctioned
    /// (CR-2).
    Illicit = 1,
    /// Mixer, instant exchanger, privacy-coin swap, bridge (CR-4).
    Obfuscation = 2,
    /// Third-party payment processor (PT-3).
    PaymentProcessor = 3,
}

/// Bits of [`mcc_flags`]: which groups an MCC belongs to.
pub(crate) mod mcc_bit {
    pub const AD_SITE: u16 = 1;
    pub const LODGING: u16 = 1 << 1;
    pub const ADULT_VENUE: u16 = 1 << 2;
    pub const TRAVEL: u16 = 1 << 3;
    pub const RECRUITMENT: u16 = 1 << 4;
    pub const QUASI_CASH: u16 = 1 << 5;
}

/// A lookup from MCC (0..=9999) to group bits and sustenance category (1-based, 0 none).
pub(crate) struct MccTable {
    pub flags: Vec<u16>,
    pub sustenance: Vec<u8>,
}

impl MccTable {
    pub fn new(groups: &MccGroups) -> MccTable {
        let mut flags = vec![0u16; 10_000];
        let mut sustenance = vec![0u8; 10_000];
        let mut mark = |ranges: &[(u16, u16)], bit: u16| {
            for &(lo, hi) in ranges {
                for c in lo..=hi.min(9999) {
                    flags[c as usize] |= bit;
                }
            }
        };
        mark(&groups.ad_site, mcc_bit::AD_SITE);
        mark(&groups.lodging, mcc_bit::LODGING);
        mark(&groups.adult_venue, mcc_bit::ADULT_VENUE);
        mark(&groups.travel, mcc_bit::TRAVEL);
        mark(&groups.recruitment, mcc_bit::RECRUITMENT);
        mark(&groups.quasi_cash, mcc_bit::QUASI_CASH);
        for (i, ranges) in groups.sustenance.iter().enumerate() {
            for &(lo, hi) in ranges {
                for c in lo..=hi.min(9999) {
                    sustenance[c as usize] = i as u8 + 1;
                }
            }
        }
        MccTable { flags, sustenance }
    }
}
