//! The rule-pack file (TOML): one `[pack]` table, an optional `[policy]`, one `[[rule]]` per rule.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Indicator groups of `docs/INDICATORS.md` §2.
pub const GROUPS: &[(&str, &str)] = &[
    ("SE", "sexual exploitation"),
    ("LE", "labour exploitation and front businesses"),
    ("FN", "funnel accounts"),
    ("ST", "structuring"),
    ("PT", "pass-through and layering"),
    ("CR", "crypto"),
    ("GR", "graph patterns"),
];

/// How serious a fired rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Weak on its own.
    Low,
    /// Worth a look with other signs.
    Medium,
    /// Strong.
    High,
}

impl Severity {
    /// One level up (high stays high).
    pub fn raised(self) -> Severity {
        match self {
            Severity::Low => Severity::Medium,
            _ => Severity::High,
        }
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// Which side of a trafficking case an entity that fires the rule is likely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleHint {
    /// Collects, controls or moves the money.
    PossibleController,
    /// Is exploited: a safeguarding lead, never a suspect (FinCEN FIN-2020-A008 p.10).
    PossibleVictim,
}

impl RoleHint {
    /// The hint's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleHint::PossibleController => "possible_controller",
            RoleHint::PossibleVictim => "possible_victim",
        }
    }
}

/// The pack's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInfo {
    /// Short name.
    pub name: String,
    /// Version, recorded with every alert.
    pub version: String,
    /// What the pack is for.
    #[serde(default)]
    pub description: String,
}

/// When fired rules make an alert (`docs/INDICATORS.md` §2: no single red flag decides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// At least this many fired rules ...
    #[serde(default = "two")]
    pub min_rules: usize,
    /// ... from at least this many different groups.
    #[serde(default = "two")]
    pub min_groups: usize,
    /// A `hard` rule (a direct list match) alerts on its own.
    #[serde(default = "yes")]
    pub hard_alerts_alone: bool,
}

fn two() -> usize {
    2
}

fn yes() -> bool {
    true
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_rules: 2,
            min_groups: 2,
            hard_alerts_alone: true,
        }
    }
}

/// One rule as written in the pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Indicator id, e.g. `SE-1`.
    pub id: String,
    /// Indicator name, e.g. `se_ad_site_micropayments`.
    pub name: String,
    /// Group: SE, LE, FN, ST, PT, CR or GR.
    pub group: String,
    /// The typology it points to, in words.
    pub typology: String,
    /// Severity when it fires.
    pub severity: Severity,
    /// Weight in (0, 1] in the rule score.
    pub weight: f64,
    /// The condition: a SQL boolean expression over `entity_features` columns.
    pub when: String,
    /// Raises the severity one level when this also holds (optional).
    #[serde(default)]
    pub escalate_when: Option<String>,
    /// Reason template; `{column}` shows the entity's value of a feature column.
    pub reason: String,
    /// Published sources: document and page.
    pub sources: Vec<String>,
    /// Role hint for entities that fire it.
    #[serde(default)]
    pub role_hint: Option<RoleHint>,
    /// A direct list match that alerts on its own.
    #[serde(default)]
    pub hard: bool,
    /// goAML indicator code, when the FIU uses one.
    #[serde(default)]
    pub goaml_indicator: Option<String>,
    /// Entity kinds it applies to (default: all).
    #[serde(default)]
    pub applies_to: Vec<String>,
    /// Whether it runs.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A rule pack as read from its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePack {
    /// Name and version.
    pub pack: PackInfo,
    /// Alert policy.
    #[serde(default)]
    pub policy: Policy,
    /// The rules, in file order.
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
    /// SHA-256 (hex) of the file's bytes, for the audit manifest.
    #[serde(skip)]
    pub sha256: String,
}

/// Something wrong with a pack; `rule` names the rule when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError {
    /// The rule's id, when the error is inside one.
    pub rule: Option<String>,
    /// The field (`when`, `reason`, ...), when known.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.field) {
            (Some(r), Some(field)) => write!(f, "rule {r}, `{field}`: {}", self.message),
            (Some(r), None) => write!(f, "rule {r}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl RulePack {
    /// Parses a pack from TOML text (`origin` names it in messages). Only the file format is
    /// checked here; [`crate::RuleEngine::new`] checks the rules themselves.
    pub fn from_toml(text: &str, origin: &str) -> Result<RulePack, Vec<PackError>> {
        let mut pack: RulePack = toml::from_str(text).map_err(|e| {
            vec![PackError {
                rule: None,
                field: None,
                message: format!("{origin}: {e}"),
            }]
        })?;
        pack.sha256 = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(pack)
    }

    /// Reads a pack file.
    pub fn from_file(path: &Path) -> Result<RulePack, Vec<PackError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![PackError {
                rule: None,
                field: None,
                message: format!("{}: {e}", path.display()),
            }]
        })?;
        RulePack::from_toml(&text, &path.display().to_string())
    }

    /// The built-in trafficking pack (`models/rules/trafficking.toml`, compiled in).
    pub fn builtin() -> RulePack {
        RulePack::from_toml(BUILTIN, "models/rules/trafficking.toml")
            .unwrap_or_else(|e| panic!("the built-in rule pack does not parse: {}", e[0]))
    }

    /// Checks what does not need the feature schema: ids, groups, weights, sources, policy.
    pub(crate) fn check_fields(&self) -> Vec<PackError> {
        let mut errors = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.rules {
            let mut err = |field: &'static str, message: String| {
                errors.push(PackError {
                    rule: Some(r.id.clone()),
                    field: Some(field),
                    message,
                });
            };
            if !seen.insert(r.id.as_str()) {
                err("id", "duplicate id".into());
            }
            if !GROUPS.iter().any(|(g, _)| *g == r.group) {
                err(
                    "group",
                    format!(
                        "unknown group `{}` (one of {})",
                        r.group,
                        GROUPS
                            .iter()
                            .map(|(g, _)| *g)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            if !(r.weight > 0.0 && r.weight <= 1.0) {
                err("weight", format!("{} is not in (0, 1]", r.weight));
            }
            if r.sources.iter().all(|s| s.trim().is_empty()) {
                err("sources", "every rule cites at least one source".into());
            }
            if r.reason.trim().is_empty() {
                err("reason", "every rule says why it fired".into());
            }
            for k in &r.applies_to {
                if !["account", "customer", "merchant", "wallet", "external"].contains(&k.as_str())
                {
                    err("applies_to", format!("unknown entity kind `{k}`"));
                }
            }
        }
        if self.policy.min_rules == 0 || self.policy.min_groups == 0 {
            errors.push(PackError {
                rule: None,
                field: Some("policy"),
                message: "min_rules and min_groups are at least 1".into(),
            });
        }
        errors
    }
}

const BUILTIN: &str = include_str!("../../../models/rules/trafficking.toml");
