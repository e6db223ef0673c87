//! Reference lists (`models/reference/`, `docs/INDICATORS.md` §3): merchant-category groups,
//! reporting thresholds, ad-site and other merchant lists, corridor countries.
//!
//! Every file starts with `# version:` and `# reviewer:` comment lines; every row carries a
//! source and a date. Loading validates columns, codes and categories and refuses what it does
//! not understand; rows past their `review_by` / `valid_to` date are ignored with a warning.
//! The SHA-256 of each file is kept for the audit manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use redflag_features::{FeatureConfig, MccGroups, PartyCategory};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The files of a reference directory, and the built-in copy of each.
const FILES: &[(&str, &str)] = &[
    (
        "mcc_groups.toml",
        include_str!("../../../models/reference/mcc_groups.toml"),
    ),
    (
        "thresholds.toml",
        include_str!("../../../models/reference/thresholds.toml"),
    ),
    (
        "adsites.csv",
        include_str!("../../../models/reference/adsites.csv"),
    ),
    (
        "short_term_rental.csv",
        include_str!("../../../models/reference/short_term_rental.csv"),
    ),
    (
        "payroll_processors.csv",
        include_str!("../../../models/reference/payroll_processors.csv"),
    ),
    (
        "corridors.csv",
        include_str!("../../../models/reference/corridors.csv"),
    ),
    (
        "vasp_attribution.csv",
        include_str!("../../../models/reference/vasp_attribution.csv"),
    ),
    (
        "tppp.csv",
        include_str!("../../../models/reference/tppp.csv"),
    ),
];

const ATTRIBUTION_COLUMNS: &str =
    "chain,address_or_cluster,category,confidence,source,licence,first_seen";

/// Attribution categories of `vasp_attribution.csv` and what they count as.
const ATTRIBUTION_CATEGORIES: &[(&str, Option<PartyCategory>)] = &[
    ("darknet_market", Some(PartyCategory::Illicit)),
    ("csam_vendor", Some(PartyCategory::Illicit)),
    ("escort_service", Some(PartyCategory::Illicit)),
    ("ad_service", Some(PartyCategory::Illicit)),
    ("guarantee_marketplace", Some(PartyCategory::Illicit)),
    ("sanctioned", Some(PartyCategory::Illicit)),
    ("mixer", Some(PartyCategory::Obfuscation)),
    ("instant_exchanger", Some(PartyCategory::Obfuscation)),
    ("privacy_coin_swap", Some(PartyCategory::Obfuscation)),
    ("bridge", Some(PartyCategory::Obfuscation)),
    ("exchange", None),
    ("vasp", None),
];

const MERCHANT_COLUMNS: &str = "pattern,kind,country,category,status,source,added_on,review_by";
const COUNTRY_COLUMNS: &str = "iso2,tier,reason,source,valid_from,valid_to";

/// A reporting threshold of one jurisdiction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashThreshold {
    /// Cash amount that triggers a report.
    pub cash_report: f64,
    /// Its currency.
    pub currency: String,
    /// Aggregation window in hours, where the law aggregates.
    #[serde(default)]
    pub aggregate_window_h: Option<u32>,
    /// Where the figure comes from.
    pub source: String,
    /// Since when it applies.
    pub valid_from: String,
}

/// One row of a merchant list (`adsites.csv` and alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantEntry {
    /// Text matched case-insensitively against `merchant_name`, or a `merchant_id`.
    pub pattern: String,
    /// `name` or `merchant_id`.
    pub kind: String,
    /// Country of the site or merchant (ISO alpha-2, may be empty).
    pub country: String,
    /// Category.
    pub category: String,
    /// Status (`active`, `seized`, ...).
    pub status: String,
    /// Source.
    pub source: String,
}

/// One row of `corridors.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryEntry {
    /// ISO 3166-1 alpha-2.
    pub iso2: String,
    /// Tier.
    pub tier: String,
    /// Why it is listed.
    pub reason: String,
    /// Source.
    pub source: String,
}

/// Loaded, validated reference lists.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Merchant-category groups.
    pub mcc: MccGroups,
    /// Thresholds by jurisdiction code.
    pub thresholds: BTreeMap<String, CashThreshold>,
    /// Ad sites.
    pub adsites: Vec<MerchantEntry>,
    /// Short-term rentals.
    pub short_term_rental: Vec<MerchantEntry>,
    /// Payroll processors and employers.
    pub payroll_processors: Vec<MerchantEntry>,
    /// Corridor countries.
    pub corridors: Vec<CountryEntry>,
    /// Third-party payment processors (party ids).
    pub tppp: Vec<MerchantEntry>,
    /// Attributed wallet addresses or clusters: id -> category (illicit or obfuscation).
    pub attributions: BTreeMap<String, PartyCategory>,
    /// File name -> (version, SHA-256 of its bytes), for the audit manifest.
    pub versions: BTreeMap<String, (String, String)>,
    /// Rows ignored because they expired, and similar notices.
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    codes: Vec<String>,
    source: String,
}

impl Reference {
    /// The lists shipped in `models/reference/` (compiled in). `today` (YYYY-MM-DD) decides
    /// which rows have expired.
    pub fn builtin(today: &str) -> Result<Reference, Vec<String>> {
        Reference::load(|_| Ok(None), today)
    }

    /// Lists from `dir`; a file the directory does not have is taken from the built-in set.
    pub fn from_dir(dir: &Path, today: &str) -> Result<Reference, Vec<String>> {
        if !dir.is_dir() {
            return Err(vec![format!("{}: not a directory", dir.display())]);
        }
        Reference::load(
            |name| {
                let p = dir.join(name);
                if p.exists() {
                    std::fs::read_to_string(&p)
                        .map(Some)
                        .map_err(|e| format!("{}: {e}", p.display()))
                } else {
                    Ok(None)
                }
            },
            today,
        )
    }

    fn load(
        read: impl Fn(&str) -> Result<Option<String>, String>,
        today: &str,
    ) -> Result<Reference, Vec<String>> {
        if !is_date(today) {
            return Err(vec![format!("today {today:?} is not a YYYY-MM-DD date")]);
        }
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut versions = BTreeMap::new();
        let mut texts = BTreeMap::new();
        for (name, builtin) in FILES {
            let text = match read(name) {
                Ok(Some(t)) => t,
                Ok(None) => (*builtin).to_owned(),
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let version = header(&text, "version");
            if version.is_none() || header(&text, "reviewer").is_none() {
                errors.push(format!(
                    "{name}: the file must start with `# version:` and `# reviewer:` lines"
                ));
            }
            let hash: String = Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            versions.insert((*name).to_owned(), (version.unwrap_or_default(), hash));
            texts.insert(*name, text);
        }
        let text = |name: &str| texts.get(name).map(String::as_str).unwrap_or_default();

        let mcc = mcc_groups(text("mcc_groups.toml"), &mut errors);
        let thresholds: BTreeMap<String, CashThreshold> =
            match toml::from_str(text("thresholds.toml")) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(format!("thresholds.toml: {e}"));
                    BTreeMap::new()
                }
            };
        for (code, t) in &thresholds {
            if !is_country(code)
                || t.cash_report.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
                || !is_date(&t.valid_from)
                || t.source.trim().is_empty()
            {
                errors.push(format!(
                    "thresholds.toml [{code}]: needs an ISO country code, a positive cash_report, a source and valid_from (YYYY-MM-DD)"
                ));
            }
        }
        let merchants = |name: &str, errors: &mut Vec<String>, warnings: &mut Vec<String>| {
            let mut out = Vec::new();
            for (line, f) in rows(name, text(name), MERCHANT_COLUMNS, errors) {
                let at = format!("{name} line {line}");
                if f[0].trim().is_empty() || f[5].trim().is_empty() {
                    errors.push(format!("{at}: pattern and source are required"));
                    continue;
                }
                if !["name", "merchant_id", "party_id"].contains(&f[1].as_str()) {
                    errors.push(format!(
                        "{at}: kind `{}` is not name, merchant_id or party_id",
                        f[1]
                    ));
                    continue;
                }
                if !f[2].is_empty() && !is_country(&f[2]) {
                    errors.push(format!(
                        "{at}: country `{}` is not an ISO alpha-2 code",
                        f[2]
                    ));
                    continue;
                }
                if !is_date(&f[6]) || !is_date(&f[7]) {
                    errors.push(format!("{at}: added_on and review_by are YYYY-MM-DD dates"));
                    continue;
                }
                if f[7].as_str() < today {
                    warnings.push(format!(
                        "{at}: `{}` is past its review date {}; ignored",
                        f[0], f[7]
                    ));
                    continue;
                }
                out.push(MerchantEntry {
                    pattern: f[0].clone(),
                    kind: f[1].clone(),
                    country: f[2].clone(),
                    category: f[3].clone(),
                    status: f[4].clone(),
                    source: f[5].clone(),
                });
            }
            out
        };
        let adsites = merchants("adsites.csv", &mut errors, &mut warnings);
        let short_term_rental = merchants("short_term_rental.csv", &mut errors, &mut warnings);
        let payroll_processors = merchants("payroll_processors.csv", &mut errors, &mut warnings);
        let tppp = merchants("tppp.csv", &mut errors, &mut warnings);
        let mut attributions = BTreeMap::new();
        for (line, f) in rows(
            "vasp_attribution.csv",
            text("vasp_attribution.csv"),
            ATTRIBUTION_COLUMNS,
            &mut errors,
        ) {
            let at = format!("vasp_attribution.csv line {line}");
            let Some((_, cat)) = ATTRIBUTION_CATEGORIES.iter().find(|(c, _)| *c == f[2]) else {
                errors.push(format!(
                    "{at}: unknown category `{}` (one of {})",
                    f[2],
                    ATTRIBUTION_CATEGORIES
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            };
            if f[1].is_empty() || f[4].trim().is_empty() || !is_date(&f[6]) {
                errors.push(format!(
                    "{at}: needs an address or cluster, a source and first_seen (YYYY-MM-DD)"
                ));
                continue;
            }
            if let Some(c) = cat {
                attributions.insert(f[1].clone(), *c);
            }
        }
        let mut corridors = Vec::new();
        for (line, f) in rows(
            "corridors.csv",
            text("corridors.csv"),
            COUNTRY_COLUMNS,
            &mut errors,
        ) {
            let at = format!("corridors.csv line {line}");
            if !is_country(&f[0])
                || f[3].trim().is_empty()
                || !is_date(&f[4])
                || !(f[5].is_empty() || is_date(&f[5]))
            {
                errors.push(format!("{at}: needs an ISO alpha-2 code, a source, valid_from and an optional valid_to (YYYY-MM-DD)"));
                continue;
            }
            if !f[5].is_empty() && f[5].as_str() < today {
                warnings.push(format!("{at}: {} expired on {}; ignored", f[0], f[5]));
                continue;
            }
            corridors.push(CountryEntry {
                iso2: f[0].clone(),
                tier: f[1].clone(),
                reason: f[2].clone(),
                source: f[3].clone(),
            });
        }
        if errors.is_empty() {
            Ok(Reference {
                mcc,
                thresholds,
                adsites,
                short_term_rental,
                payroll_processors,
                corridors,
                tppp,
                attributions,
                versions,
                warnings,
            })
        } else {
            Err(errors)
        }
    }

    /// Puts the lists into a feature configuration: MCC groups, the cash threshold (`override`
    /// when given, else the jurisdiction's, which must be in the base currency), ad-site and
    /// rental names, payroll originators, corridor countries.
    pub fn apply(
        &self,
        cfg: &mut FeatureConfig,
        jurisdiction: &str,
        base_currency: &str,
        threshold_override: Option<f64>,
    ) -> Result<(), String> {
        cfg.cash_threshold = match threshold_override {
            Some(t) if t > 0.0 && t.is_finite() => t,
            Some(t) => return Err(format!("cash threshold {t} is not a positive amount")),
            None => {
                let t = self.thresholds.get(jurisdiction).ok_or_else(|| {
                    format!(
                        "no reporting threshold for jurisdiction {jurisdiction} (thresholds.toml has {})",
                        self.thresholds.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                })?;
                if !t.currency.eq_ignore_ascii_case(base_currency) {
                    return Err(format!(
                        "the {jurisdiction} threshold is in {} but amounts are in {base_currency}: give the threshold in {base_currency}",
                        t.currency
                    ));
                }
                t.cash_report
            }
        };
        cfg.mcc = self.mcc.clone();
        let names = |list: &[MerchantEntry]| -> Vec<String> {
            list.iter()
                .filter(|e| e.kind == "name")
                .map(|e| e.pattern.to_ascii_lowercase())
                .collect()
        };
        cfg.ad_site_merchants = names(&self.adsites);
        cfg.short_term_rental_merchants = names(&self.short_term_rental);
        cfg.payroll_originators = self
            .payroll_processors
            .iter()
            .map(|e| e.pattern.clone())
            .collect();
        cfg.corridors = self
            .corridors
            .iter()
            .map(|c| c.iso2.clone())
            .collect::<BTreeSet<_>>();
        Ok(())
    }
}

fn mcc_groups(text: &str, errors: &mut Vec<String>) -> MccGroups {
    let groups: BTreeMap<String, GroupEntry> = match toml::from_str(text) {
        Ok(g) => g,
        Err(e) => {
            errors.push(format!("mcc_groups.toml: {e}"));
            return MccGroups::default();
        }
    };
    let mut get = |name: &str| -> Vec<(u16, u16)> {
        let Some(g) = groups.get(name) else {
            errors.push(format!("mcc_groups.toml: group [{name}] is missing"));
            return Vec::new();
        };
        if g.source.trim().is_empty() {
            errors.push(format!("mcc_groups.toml [{name}]: source is required"));
        }
        g.codes
            .iter()
            .filter_map(|c| {
                let range = match c.split_once('-') {
                    Some((a, b)) => a.parse::<u16>().ok().zip(b.parse::<u16>().ok()),
                    None => c.parse::<u16>().ok().map(|v| (v, v)),
                };
                match range {
                    Some((a, b)) if c.len() >= 4 && a <= b && b <= 9999 => Some((a, b)),
                    _ => {
                        errors.push(format!(
                            "mcc_groups.toml [{name}]: `{c}` is not a 4-digit code or range"
                        ));
                        None
                    }
                }
            })
            .collect()
    };
    let known = [
        "ad_site",
        "lodging",
        "adult_venue",
        "travel",
        "recruitment",
        "quasi_cash",
        "sustenance_fast_food",
        "sustenance_pharmacy",
        "sustenance_cosmetics",
        "sustenance_apparel",
        "sustenance_beauty",
        "sustenance_taxi",
    ];
    let out = MccGroups {
        ad_site: get("ad_site"),
        lodging: get("lodging"),
        adult_venue: get("adult_venue"),
        travel: get("travel"),
        recruitment: get("recruitment"),
        quasi_cash: get("quasi_cash"),
        sustenance: known[6..].iter().map(|n| get(n)).collect(),
    };
    for name in groups.keys() {
        if !known.contains(&name.as_str()) {
            errors.push(format!(
                "mcc_groups.toml: unknown group [{name}] (known: {})",
                known.join(", ")
            ));
        }
    }
    out
}

/// `# key: value` from a file's leading comment lines.
fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| {
            l.trim_start_matches('#')
                .trim()
                .strip_prefix(key)?
                .strip_prefix(':')
                .map(|v| v.trim().to_owned())
        })
}

/// The data rows of a list file (1-based line numbers), checked against its header.
fn rows(
    name: &str,
    text: &str,
    columns: &str,
    errors: &mut Vec<String>,
) -> Vec<(usize, Vec<String>)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    match lines.next() {
        Some((_, h)) if h.trim() == columns => {}
        _ => {
            errors.push(format!("{name}: the header must be `{columns}`"));
            return Vec::new();
        }
    }
    let n = columns.split(',').count();
    let mut out = Vec::new();
    for (i, line) in lines {
        let fields = split_csv(line);
        if fields.len() != n {
            errors.push(format!(
                "{name} line {}: {} fields, expected {n} ({columns})",
                i + 1,
                fields.len()
            ));
            continue;
        }
        out.push((i + 1, fields));
    }
    out
}

/// Splits one CSV line (RFC 4180 quoting, no line breaks inside fields).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out.into_iter().map(|f| f.trim().to_owned()).collect()
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_load_and_match_the_feature_defaults() {
        let r = Reference::builtin("2026-11-28").expect("valid");
        assert_eq!(r.mcc, MccGroups::default());
        assert_eq!(r.thresholds["US"].cash_report, 10_000.0);
        assert_eq!(r.adsites[0].pattern, "backpage");
        assert!(r.warnings.is_empty());
        assert_eq!(r.versions.len(), FILES.len());
        let mut cfg = FeatureConfig::default();
        r.apply(&mut cfg, "US", "USD", None).expect("apply");
        assert_eq!(cfg.ad_site_merchants, ["backpage"]);
        assert!(
            r.apply(&mut cfg, "CA", "USD", None)
                .expect_err("refused")
                .contains("in CAD")
        );
        assert!(
            r.apply(&mut cfg, "FR", "EUR", None)
                .expect_err("refused")
                .contains("no reporting threshold")
        );
    }

    #[test]
    fn expired_rows_are_ignored_with_a_warning() {
        let r = Reference::builtin("2029-01-01").expect("valid");
        assert!(r.adsites.is_empty());
        assert!(
            r.warnings[0].contains("adsites.csv line 7: `backpage` is past its review date"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn bad_lists_are_refused_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("redflag-ref-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("corridors.csv"),
            "# version: 2\n# reviewer: me\niso2,tier,reason,source,valid_from,valid_to\nXYZ,1,test,src,2024-01-01,\nTH,1,\"FC20 p.8, proceeds\",FC20,2024-01-01,\n",
        )
        .expect("write");
        std::fs::write(
            dir.join("mcc_groups.toml"),
            "# version: 2\n# reviewer: me\n[lodging]\ncodes = [\"70\"]\nsource = \"x\"\n",
        )
        .expect("write");
        let errors = Reference::from_dir(&dir, "2026-11-28").expect_err("refused");
        let all = errors.join("\n");
        assert!(
            all.contains("corridors.csv line 4: needs an ISO alpha-2 code"),
            "{all}"
        );
        assert!(
            all.contains("mcc_groups.toml [lodging]: `70` is not a 4-digit code"),
            "{all}"
        );
        assert!(all.contains("group [ad_site] is missing"), "{all}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
