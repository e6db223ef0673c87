//! The alert record: one line of `alerts.jsonl`. This is a wire format; fields are only ever
//! added, and a change to an existing one bumps [`ALERT_FORMAT_VERSION`].
//!
//! ```json
//! {"alert_id":"A-3f9c2b7d1e08","rank":1,"entity_id":"P-6d6d4897f7d77ecc","entity_kind":"account",
//!  "risk":0.912,"rule_score":0.88,"anomaly_score":0.71,"anomaly_percentile":99.2,
//!  "anomaly_only":false,"typologies":["funnel account: cash in across cities, out elsewhere, fast"],
//!  "reasons":[{"code":"fn_multi_region_cash_remote_withdrawal","rule_id":"FN-1","group":"FN",
//!    "severity":"high","text":"cash paid in at 4 cities, ...",
//!    "values":[{"feature":"cash_in_cities_30d","value":4.0,"op":">=","threshold":3.0}],
//!    "sources":["FC20 p.4, p.8","FCSW"]}],
//!  "top_features":[{"name":"remote_out_ratio_30d","value":0.98,"contribution":1.7}],
//!  "evidence_txn_ids":["T0001","T0002"],"role_hint":"possible_controller","case_id":"A-3f9c2b7d1e08",
//!  "versions":{"alert_format":1,"tool":"0.1.0","rule_pack":"trafficking 1.0.0","rule_pack_sha256":"...",
//!    "model":"iforest fitted on this batch (...)","reference":{"adsites.csv":"1.0.0 ..."}}}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the alert record format.
pub const ALERT_FORMAT_VERSION: u32 = 1;

/// One alert for one entity, ranked, with every reason behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id: a hash of the entity (its pseudonym in a pseudonymous run), `as_of` and the
    /// rule pack.
    pub alert_id: String,
    /// 1 is the highest risk; ties are broken by entity kind and id.
    pub rank: usize,
    /// The entity (account, customer, wallet, ...) id: its pseudonym (`P-` and 16 hex digits)
    /// in a pseudonymous run, else the raw id.
    pub entity_id: String,
    /// `account`, `customer`, `merchant`, `wallet` or `external`.
    pub entity_kind: String,
    /// Combined risk in [0, 1] (see [`crate::risk`]).
    pub risk: f64,
    /// Noisy-OR of the fired rules' weights, severity-aware.
    pub rule_score: f64,
    /// Isolation-forest anomaly score in (0, 1].
    pub anomaly_score: f64,
    /// Percentile of the anomaly score among the batch's entities.
    pub anomaly_percentile: f64,
    /// The alert comes from the isolation forest alone (no rule policy met).
    pub anomaly_only: bool,
    /// Typologies of the fired rules.
    pub typologies: Vec<String>,
    /// Fired rules, strongest first.
    pub reasons: Vec<Reason>,
    /// Features that most shortened the entity's isolation path.
    pub top_features: Vec<TopFeature>,
    /// Transactions behind the alert (at most 20, largest first).
    pub evidence_txn_ids: Vec<String>,
    /// `possible_controller`, `possible_victim` or `unknown`. A possible victim is a
    /// safeguarding lead, never the subject of a report (FinCEN FIN-2020-A008 p.10).
    /// `possible_victim` when the entity hands most of what it pays inside its case to the
    /// entity the case's money flows to (swept wages, passed-on takings, a mule account),
    /// whatever rules fired; otherwise `possible_controller` when a fired rule hints so, then
    /// `possible_victim` when one hints that, else `unknown`.
    pub role_hint: String,
    /// Alerts linked by transactions share a case; its id is the best-ranked member's alert id.
    pub case_id: String,
    /// Versions of everything that produced the alert.
    pub versions: Versions,
}

/// A fired rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The indicator name (e.g. `fn_multi_region_cash_remote_withdrawal`).
    pub code: String,
    /// The rule id (e.g. `FN-1`).
    pub rule_id: String,
    /// The indicator group.
    pub group: String,
    /// Severity after escalation.
    pub severity: String,
    /// The reason text with the entity's values.
    pub text: String,
    /// The values compared, with their thresholds.
    pub values: Vec<ReasonValue>,
    /// Published sources of the indicator.
    pub sources: Vec<String>,
}

/// A feature value next to the threshold it was compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonValue {
    /// Feature column.
    pub feature: String,
    /// The entity's value (null when undefined).
    pub value: Option<f64>,
    /// Comparison operator, feature on the left.
    pub op: String,
    /// The threshold.
    pub threshold: f64,
}

/// One feature's share in the anomaly score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopFeature {
    /// Feature column.
    pub name: String,
    /// The entity's value.
    pub value: f64,
    /// Mean isolation-path shortening attributed to it (larger = more anomalous).
    pub contribution: f64,
}

/// What produced an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    /// [`ALERT_FORMAT_VERSION`].
    pub alert_format: u32,
    /// redflag's version.
    pub tool: String,
    /// Rule pack name and version.
    pub rule_pack: String,
    /// SHA-256 of the rule pack file.
    pub rule_pack_sha256: String,
    /// The isolation forest used.
    pub model: String,
    /// Reference list file -> "version sha256".
    pub reference: BTreeMap<String, String>,
}
