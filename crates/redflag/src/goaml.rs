//! goAML suspicious-transaction-report drafts from a run's alerts.
//!
//! goAML is UNODC's reporting system, used by more than 60 FIUs. [`export`] writes one
//! `<report>` (STR by default) for the chosen alerts of a run:
//!
//! - the header from the reporting entity's TOML ([`ReportingEntity`]): `rentity_id`,
//!   `submission_code`, `report_code`, `submission_date`, `currency_code_local`, the reporting
//!   person; `reason` is drafted from the alerts' reasons and sources, `action` from the TOML;
//! - each alert's evidence transactions, re-read from the run's inputs (their SHA-256 must still
//!   match the manifest), as bi-party `<transaction>`s: `t_from_my_client` / `t_to_my_client`
//!   for the institution's own accounts, `t_from` / `t_to` for other parties (cash as an
//!   unknown person), with `transmode_code` and funds codes from the FIU mapping;
//! - `report_indicators` mapped from the fired rules' ids through the FIU mapping
//!   ([`FiuMapping`]).
//!
//! Identities are raw in a goAML report. In a pseudonymous run, every party's identity used is
//! logged first (`export-goaml` lines in the audit log, with the purpose), and the run's key
//! must be the caller's. A possible victim is never exported as a subject (FinCEN FIN-2020-A008
//! p.10). The draft is checked against the goAML element order and required fields
//! ([`validate`]) before it is written, atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use redflag_io::{DiscardRejects, IngestOptions, MappingProfile, RateTable, ingest};
use redflag_schema::columns as col;
use serde::Deserialize;

use crate::privacy::{Key, RevealRequest};
use crate::{Alert, Error, Result};

/// The reporting entity (`--entity FILE`, TOML).
///
/// ```toml
/// rentity_id = 1234
/// rentity_branch = "Head office"        # optional
/// submission_code = "E"                  # E electronic, M manual
/// report_code = "STR"
/// currency_code_local = "USD"
/// institution_name = "Example Bank"
/// swift = "RFLGUS33"                     # or institution_code = "..."
/// country = "US"                         # for parties whose country is unknown
/// action = "Accounts under enhanced monitoring; no funds frozen."
/// [reporting_person]
/// first_name = "Ana"
/// last_name = "Reyes"
/// occupation = "MLRO"                    # optional
/// email = "mlro@example.com"             # optional
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportingEntity {
    /// The entity's goAML id.
    pub rentity_id: u64,
    /// Branch (optional).
    pub rentity_branch: Option<String>,
    /// `E` or `M`.
    pub submission_code: String,
    /// `STR`, `SAR`, ... as the FIU defines.
    #[serde(default = "str_code")]
    pub report_code: String,
    /// Local currency (ISO 4217).
    pub currency_code_local: String,
    /// The institution's name, on its clients' accounts.
    pub institution_name: String,
    /// Its BIC, or ...
    pub swift: Option<String>,
    /// ... its national institution code.
    pub institution_code: Option<String>,
    /// Country (ISO 3166-1 alpha-2) used when a party's is unknown.
    pub country: String,
    /// What the institution did.
    pub action: Option<String>,
    /// Who files.
    pub reporting_person: Person,
}

fn str_code() -> String {
    "STR".into()
}

/// The reporting person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Occupation (optional).
    pub occupation: Option<String>,
    /// E-mail (optional).
    pub email: Option<String>,
}

/// An FIU's lookup codes (`--fiu FILE`, TOML): `[indicators]` rule id → the FIU's indicator
/// code, `[transmode]` and `[funds]` channel → code. A rule missing from `[indicators]` is an
/// error naming it; a channel missing from the others falls back to the `other` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiuMapping {
    /// Name of the FIU (or `template`).
    pub fiu: String,
    /// Rule id → indicator code.
    pub indicators: BTreeMap<String, String>,
    /// Channel → transmode code.
    pub transmode: BTreeMap<String, String>,
    /// Channel → funds code.
    pub funds: BTreeMap<String, String>,
}

/// The built-in mapping (`models/goaml/template.toml`): placeholder codes, to be replaced by
/// the FIU's own lookup values.
pub const TEMPLATE_MAPPING: &str = include_str!("../../../models/goaml/template.toml");

impl FiuMapping {
    /// Parses a mapping; errors name the file.
    pub fn parse(text: &str, origin: &str) -> Result<FiuMapping> {
        toml::from_str(text).map_err(|e| Error::Config(format!("{origin}: {e}")))
    }

    fn code<'a>(table: &'a BTreeMap<String, String>, channel: &str) -> &'a str {
        table
            .get(channel)
            .or_else(|| table.get("other"))
            .map_or("", String::as_str)
    }
}

impl ReportingEntity {
    /// Parses the TOML; errors name the file.
    pub fn parse(text: &str, origin: &str) -> Result<ReportingEntity> {
        let e: ReportingEntity =
            toml::from_str(text).map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        if e.swift.is_none() == e.institution_code.is_none() {
            return Err(Error::Config(format!(
                "{origin}: give exactly one of swift and institution_code"
            )));
        }
        Ok(e)
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest<'a> {
    /// The run's output directory.
    pub run_dir: &'a Path,
    /// Alert ids.
    pub alert_ids: &'a [String],
    /// The reporting entity.
    pub entity: &'a ReportingEntity,
    /// The FIU's codes.
    pub fiu: &'a FiuMapping,
    /// The key, when the run is pseudonymous.
    pub key: Option<&'a Key>,
    /// Why, for the audit log.
    pub purpose: &'a str,
    /// Who.
    pub who: &'a str,
    /// The audit log.
    pub log: &'a Path,
    /// `submission_date` (goAML `YYYY-MM-DDThh:mm:ss`); default now.
    pub submission_date: Option<String>,
}

/// An XML element: name, text, children.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    /// Element name.
    pub name: String,
    /// Text content (leaf elements).
    pub text: Option<String>,
    /// Child elements, in order.
    pub children: Vec<Node>,
}

impl Node {
    fn new(name: &str) -> Node {
        Node {
            name: name.into(),
            ..Node::default()
        }
    }
    fn leaf(name: &str, text: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            text: Some(text.into()),
            children: Vec::new(),
        }
    }
    fn with(mut self, child: Node) -> Node {
        self.children.push(child);
        self
    }
    fn opt(self, name: &str, text: Option<&str>) -> Node {
        match text.filter(|t| !t.is_empty()) {
            Some(t) => self.with(Node::leaf(name, t)),
            None => self,
        }
    }
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Serialises with two-space indentation and an XML declaration.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        match &self.text {
            Some(t) => out.push_str(&format!("{pad}<{0}>{1}</{0}>\n", self.name, escape(t))),
            None => {
                out.push_str(&format!("{pad}<{}>\n", self.name));
                for c in &self.children {
                    c.write(out, depth + 1);
                }
                out.push_str(&format!("{pad}</{}>\n", self.name));
            }
        }
    }

    /// Parses what [`Node::to_xml`] writes (elements and text; no attributes, comments or
    /// mixed content). Errors name the byte offset.
    pub fn parse(xml: &str) -> Result<Node> {
        let bad = |at: usize, what: &str| Error::Input(format!("XML at byte {at}: {what}"));
        let mut s = xml.trim_start();
        if let Some(rest) = s.strip_prefix("<?xml") {
            let end = rest
                .find("?>")
                .ok_or_else(|| bad(0, "unterminated declaration"))?;
            s = rest[end + 2..].trim_start();
        }
        let base = xml.len() - s.len();
        let mut stack: Vec<Node> = Vec::new();
        let mut root = None;
        let mut i = 0;
        let b = s.as_bytes();
        while i < b.len() {
            if b[i] == b'<' {
                let end = s[i..]
                    .find('>')
                    .ok_or_else(|| bad(base + i, "unterminated tag"))?
                    + i;
                let tag = &s[i + 1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let node = stack
                        .pop()
                        .ok_or_else(|| bad(base + i, "unexpected end tag"))?;
                    if node.name != name {
                        return Err(bad(base + i, &format!("</{name}> closes <{}>", node.name)));
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                } else {
                    if tag.is_empty() || tag.contains([' ', '/', '=']) {
                        return Err(bad(base + i, "attributes and empty tags are not read"));
                    }
                    stack.push(Node::new(tag));
                }
                i = end + 1;
            } else {
                let end = s[i..].find('<').map_or(b.len(), |e| e + i);
                let text = &s[i..end];
                if !text.trim().is_empty() {
                    let node = stack
                        .last_mut()
                        .ok_or_else(|| bad(base + i, "text outside the root"))?;
                    node.text = Some(unescape(text));
                }
                i = end;
            }
        }
        if !stack.is_empty() {
            return Err(bad(xml.len(), "unclosed element"));
        }
        root.ok_or_else(|| bad(0, "no root element"))
    }
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn unescape(t: &str) -> String {
    t.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// One slot of an element's content model: element names (several = a choice), min and max
/// occurrences.
type Slot = (&'static [&'static str], usize, usize);
const MANY: usize = usize::MAX;

/// The goAML content models redflag writes (goAML 4.x/5.x `report`, bi-party transactions),
/// in schema order. Elements not listed here are leaves.
fn content_model(name: &str) -> Option<&'static [Slot]> {
    const ACCOUNT: &[Slot] = &[
        (&["institution_name"], 1, 1),
        (&["institution_code", "swift"], 1, 1),
        (&["non_bank_institution"], 0, 1),
        (&["branch"], 0, 1),
        (&["account"], 1, 1),
        (&["currency_code"], 0, 1),
        (&["account_name"], 0, 1),
        (&["iban"], 0, 1),
        (&["client_number"], 0, 1),
        (&["personal_account_type"], 0, 1),
        (&["status_code"], 0, 1),
        (&["comments"], 0, 1),
    ];
    const PERSON: &[Slot] = &[
        (&["gender"], 0, 1),
        (&["title"], 0, 1),
        (&["first_name"], 1, 1),
        (&["middle_name"], 0, 1),
        (&["prefix"], 0, 1),
        (&["last_name"], 1, 1),
        (&["occupation"], 0, 1),
        (&["email"], 0, 1),
        (&["comments"], 0, 1),
    ];
    const ENTITY: &[Slot] = &[
        (&["name"], 1, 1),
        (&["commercial_name"], 0, 1),
        (&["incorporation_legal_form"], 0, 1),
        (&["incorporation_number"], 0, 1),
        (&["business"], 0, 1),
        (&["comments"], 0, 1),
    ];
    const FROM: &[Slot] = &[
        (&["from_funds_code"], 1, 1),
        (&["from_funds_comment"], 0, 1),
        (&["from_foreign_currency"], 0, 1),
        (&["t_conductor"], 0, 1),
        (&["from_account", "from_person", "from_entity"], 1, 1),
        (&["from_country"], 1, 1),
    ];
    const TO: &[Slot] = &[
        (&["to_funds_code"], 1, 1),
        (&["to_funds_comment"], 0, 1),
        (&["to_foreign_currency"], 0, 1),
        (&["to_account", "to_person", "to_entity"], 1, 1),
        (&["to_country"], 1, 1),
    ];
    Some(match name {
        "report" => &[
            (&["rentity_id"], 1, 1),
            (&["rentity_branch"], 0, 1),
            (&["submission_code"], 1, 1),
            (&["report_code"], 1, 1),
            (&["entity_reference"], 0, 1),
            (&["fiu_ref_number"], 0, 1),
            (&["submission_date"], 1, 1),
            (&["currency_code_local"], 1, 1),
            (&["reporting_person"], 0, 1),
            (&["location"], 0, 1),
            (&["reason"], 0, 1),
            (&["action"], 0, 1),
            (&["transaction"], 1, MANY),
            (&["report_indicators"], 0, 1),
        ],
        "transaction" => &[
            (&["transactionnumber"], 1, 1),
            (&["internal_ref_number"], 0, 1),
            (&["transaction_location"], 0, 1),
            (&["transaction_description"], 0, 1),
            (&["date_transaction"], 1, 1),
            (&["teller"], 0, 1),
            (&["authorized"], 0, 1),
            (&["late_deposit"], 0, 1),
            (&["date_posting"], 0, 1),
            (&["value_date"], 0, 1),
            (&["transmode_code"], 1, 1),
            (&["transmode_comment"], 0, 1),
            (&["amount_local"], 1, 1),
            (&["t_from_my_client", "t_from"], 1, 1),
            (&["t_to_my_client", "t_to"], 1, 1),
            (&["goods_services"], 0, 1),
            (&["comments"], 0, 1),
        ],
        "t_from_my_client" | "t_from" => FROM,
        "t_to_my_client" | "t_to" => TO,
        "from_account" | "to_account" => ACCOUNT,
        "from_person" | "to_person" | "reporting_person" => PERSON,
        "from_entity" | "to_entity" => ENTITY,
        "from_foreign_currency" | "to_foreign_currency" => &[
            (&["foreign_currency_code"], 1, 1),
            (&["foreign_amount"], 1, 1),
            (&["foreign_exchange_rate"], 1, 1),
        ],
        "report_indicators" => &[(&["indicator"], 1, MANY)],
        _ => return None,
    })
}

/// Checks `node` and everything below it against the goAML element order and required fields.
/// Returns every problem, each with its element path.
pub fn validate(node: &Node) -> Vec<String> {
    let mut problems = Vec::new();
    check(node, &node.name, &mut problems);
    problems
}

fn check(node: &Node, path: &str, problems: &mut Vec<String>) {
    let Some(model) = content_model(&node.name) else {
        if !node.children.is_empty() {
            problems.push(format!("{path}: expected text, found child elements"));
        } else if node.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            problems.push(format!("{path}: empty"));
        }
        return;
    };
    let mut k = 0;
    for (names, min, max) in model {
        let mut n = 0;
        while k < node.children.len() && names.contains(&node.children[k].name.as_str()) {
            n += 1;
            k += 1;
        }
        if n < *min {
            problems.push(format!("{path}: missing required {}", names.join(" or ")));
        }
        if n > *max {
            problems.push(format!("{path}: too many {}", names.join(" or ")));
        }
    }
    if let Some(extra) = node.children.get(k) {
        problems.push(format!(
            "{path}: unexpected <{}> (not allowed here, or out of order)",
            extra.name
        ));
    }
    for c in &node.children {
        check(c, &format!("{path}/{}", c.name), problems);
    }
}

/// One evidence transaction, as re-read from the inputs.
#[derive(Debug, Clone)]
struct Txn {
    id: String,
    ts: i64,
    amount_base: f64,
    amount: f64,
    currency: String,
    channel: String,
    side: [Party; 2],
    geo_country: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Party {
    id: String,
    kind: String,
    name: Option<String>,
    institution: Option<String>,
    country: Option<String>,
    customer: Option<String>,
}

fn text(b: &RecordBatch, name: &str, i: usize) -> Option<String> {
    let c = b.column_by_name(name)?;
    if c.is_null(i) {
        return None;
    }
    arrow::util::display::array_value_to_string(c, i)
        .ok()
        .filter(|s| !s.is_empty())
}

fn number(b: &RecordBatch, name: &str, i: usize) -> f64 {
    text(b, name, i).and_then(|t| t.parse().ok()).unwrap_or(0.0)
}

/// Re-reads the run's inputs (checking their SHA-256 against the manifest) and returns the
/// transactions whose id is in `wanted`.
fn evidence(
    run_dir: &Path,
    manifest: &serde_json::Value,
    wanted: &BTreeSet<&str>,
) -> Result<Vec<Txn>> {
    let cfg = &manifest["config"];
    let mut inputs = Vec::new();
    for input in manifest["inputs"].as_array().into_iter().flatten() {
        let path = PathBuf::from(input["path"].as_str().unwrap_or_default());
        let now = crate::engine::file_entry(&path)?;
        if Some(now.sha256.as_str()) != input["sha256"].as_str() {
            return Err(Error::Input(format!(
                "{}: changed since the run in {} (SHA-256 differs); export from a run over the current file",
                path.display(),
                run_dir.display()
            )));
        }
        inputs.push(path.display().to_string());
    }
    let base = cfg["base_currency"].as_str().unwrap_or("USD");
    let rates = match cfg["rates"].as_str() {
        Some(p) if p != "none" => RateTable::from_file(Path::new(p), base)?,
        _ => RateTable::base_only(base)?,
    };
    let profile = MappingProfile::resolve(cfg["mapping"].as_str().unwrap_or("canonical"))?;
    let got = ingest(
        &inputs,
        &IngestOptions::new(profile, rates),
        &mut DiscardRejects,
    )?;
    let mut out = Vec::new();
    for b in &got.batches {
        let ts = b
            .column_by_name(col::TS)
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
        for i in 0..b.num_rows() {
            let Some(id) = text(b, col::TXN_ID, i) else {
                continue;
            };
            if !wanted.contains(id.as_str()) {
                continue;
            }
            let party = |p: [&str; 6]| Party {
                id: text(b, p[0], i).unwrap_or_default(),
                kind: text(b, p[1], i).unwrap_or_else(|| "account".into()),
                name: text(b, p[2], i),
                institution: text(b, p[3], i),
                country: text(b, p[4], i),
                customer: text(b, p[5], i),
            };
            out.push(Txn {
                id,
                ts: ts.map_or(0, |t| t.value(i)),
                amount_base: number(b, col::AMOUNT_BASE, i),
                amount: number(b, col::AMOUNT, i),
                currency: text(b, col::CURRENCY, i).unwrap_or_default(),
                channel: text(b, col::CHANNEL, i).unwrap_or_else(|| "other".into()),
                side: [
                    party([
                        col::SENDER_ID,
                        col::SENDER_KIND,
                        col::SENDER_NAME,
                        col::SENDER_INSTITUTION,
                        col::SENDER_COUNTRY,
                        col::SENDER_CUSTOMER_ID,
                    ]),
                    party([
                        col::RECEIVER_ID,
                        col::RECEIVER_KIND,
                        col::RECEIVER_NAME,
                        col::RECEIVER_INSTITUTION,
                        col::RECEIVER_COUNTRY,
                        col::RECEIVER_CUSTOMER_ID,
                    ]),
                ],
                geo_country: text(b, col::GEO_COUNTRY, i),
            });
        }
    }
    out.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

fn goaml_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The party element of one side (`from` or `to`), and whether it is the institution's client.
fn side(t: &Txn, p: &Party, dir: &str, e: &ReportingEntity, fiu: &FiuMapping) -> Node {
    let mine = p.kind == "account"
        && p.institution.as_deref().is_none_or(|i| {
            Some(i) == e.swift.as_deref() || Some(i) == e.institution_code.as_deref()
        });
    let cash = p.kind == "cash" || p.id == redflag_schema::CASH_PARTY;
    let wrapper = if mine {
        format!("t_{dir}_my_client")
    } else {
        format!("t_{dir}")
    };
    let funds = FiuMapping::code(&fiu.funds, &t.channel);
    let mut node = Node::new(&wrapper).with(Node::leaf(&format!("{dir}_funds_code"), funds));
    if t.currency != e.currency_code_local && !t.currency.is_empty() {
        node = node.with(
            Node::new(&format!("{dir}_foreign_currency"))
                .with(Node::leaf("foreign_currency_code", t.currency.clone()))
                .with(Node::leaf("foreign_amount", format!("{:.2}", t.amount)))
                .with(Node::leaf(
                    "foreign_exchange_rate",
                    format!(
                        "{:.6}",
                        if t.amount > 0.0 {
                            t.amount_base / t.amount
                        } else {
                            0.0
                        }
                    ),
                )),
        );
    }
    let merchant = p.kind == "merchant";
    let holder = if cash {
        Node::new(&format!("{dir}_person"))
            .with(Node::leaf("first_name", "Unknown"))
            .with(Node::leaf("last_name", "Cash counterpart"))
    } else if merchant {
        Node::new(&format!("{dir}_entity"))
            .with(Node::leaf(
                "name",
                p.name.clone().unwrap_or_else(|| p.id.clone()),
            ))
            .with(Node::leaf("comments", format!("merchant id {}", p.id)))
    } else if mine {
        Node::new(&format!("{dir}_account"))
            .with(Node::leaf("institution_name", e.institution_name.clone()))
            .with(match (&e.swift, &e.institution_code) {
                (Some(s), _) => Node::leaf("swift", s.clone()),
                (None, c) => Node::leaf("institution_code", c.clone().unwrap_or_default()),
            })
            .with(Node::leaf("non_bank_institution", "false"))
            .with(Node::leaf("account", p.id.clone()))
            .with(Node::leaf("currency_code", e.currency_code_local.clone()))
            .opt("account_name", p.name.as_deref())
            .opt("client_number", p.customer.as_deref())
    } else {
        let wallet = p.kind == "wallet";
        let institution = p
            .institution
            .clone()
            .unwrap_or_else(|| if wallet { "crypto wallet" } else { "unknown" }.to_owned());
        Node::new(&format!("{dir}_account"))
            .with(Node::leaf("institution_name", institution.clone()))
            .with(Node::leaf("institution_code", institution))
            .with(Node::leaf("non_bank_institution", wallet.to_string()))
            .with(Node::leaf("account", p.id.clone()))
            .opt("account_name", p.name.as_deref())
    };
    let country = p
        .country
        .clone()
        .or_else(|| t.geo_country.clone())
        .unwrap_or_else(|| e.country.clone());
    node.with(holder)
        .with(Node::leaf(&format!("{dir}_country"), country))
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The report.
    pub report: Node,
    /// Transactions in it.
    pub transactions: usize,
    /// Audit-log lines written (pseudonymous runs).
    pub logged: usize,
}

/// Builds the goAML report for `req.alert_ids` and writes it to `out` (atomically), after
/// logging every identity it uses when the run is pseudonymous.
pub fn export(req: &ExportRequest<'_>, out: &Path) -> Result<Exported> {
    crate::privacy::check_purpose(req.purpose)?;
    let read = |name: &str| {
        let p = req.run_dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| Error::Input(format!("{}: {e}", p.display())))
    };
    let manifest: serde_json::Value =
        serde_json::from_str(&read("manifest.json")?).map_err(|e| {
            Error::Input(format!(
                "{}: {e}",
                req.run_dir.join("manifest.json").display()
            ))
        })?;
    let pseudonymous = manifest["ids"]["mode"] == "pseudonymous";
    let key = match (pseudonymous, req.key) {
        (false, _) => None,
        (true, None) => {
            return Err(Error::Config(
                "the run is pseudonymous: exporting identities needs its key".into(),
            ));
        }
        (true, Some(k)) => {
            let want = manifest["ids"]["key_fingerprint"]
                .as_str()
                .unwrap_or_default();
            if k.fingerprint() != want {
                return Err(Error::Config(format!(
                    "the run was written under key {want}; this key is {}",
                    k.fingerprint()
                )));
            }
            Some(k)
        }
    };
    let alerts: Vec<Alert> = read("alerts.jsonl")?
        .lines()
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Input(format!("alerts.jsonl: {e}")))?;
    let mut chosen = Vec::new();
    for id in req.alert_ids {
        let a = alerts
            .iter()
            .find(|a| &a.alert_id == id)
            .ok_or_else(|| Error::Input(format!("no alert {id} in {}", req.run_dir.display())))?;
        if a.role_hint == "possible_victim" {
            return Err(Error::Config(format!(
                "{id} is a possible victim: a safeguarding lead, never the subject of a report \
                 (FinCEN FIN-2020-A008 p.10); leave it out"
            )));
        }
        chosen.push(a);
    }
    if chosen.is_empty() {
        return Err(Error::Config("no alert ids given".into()));
    }
    let mut indicators = BTreeSet::new();
    for a in &chosen {
        for r in &a.reasons {
            let code = req.fiu.indicators.get(&r.rule_id).ok_or_else(|| {
                Error::Config(format!(
                    "the FIU mapping ({}) has no indicator for rule {}; add it under [indicators]",
                    req.fiu.fiu, r.rule_id
                ))
            })?;
            indicators.insert(code.clone());
        }
    }
    let wanted: BTreeSet<&str> = chosen
        .iter()
        .flat_map(|a| a.evidence_txn_ids.iter().map(String::as_str))
        .collect();
    let txns = evidence(req.run_dir, &manifest, &wanted)?;
    if txns.is_empty() {
        return Err(Error::Input(
            "none of the alerts' evidence transactions is in the run's inputs".into(),
        ));
    }

    // Every identity the report holds is logged first (pseudonymous runs).
    let mut logged = 0;
    if let Some(k) = key {
        let log_req = RevealRequest {
            target: "",
            run_dir: req.run_dir,
            purpose: req.purpose,
            who: req.who,
            log: req.log,
        };
        let mut parties: BTreeSet<String> = BTreeSet::new();
        for t in &txns {
            for p in &t.side {
                if p.id != redflag_schema::CASH_PARTY {
                    parties.insert(k.pseudonym(&p.id));
                }
            }
        }
        let subjects: Vec<String> = chosen.iter().map(|a| a.alert_id.clone()).collect();
        let target = subjects.join(",");
        for p in &parties {
            crate::privacy::log_access(&log_req, "export-goaml", &target, p)?;
            logged += 1;
        }
    }

    let e = req.entity;
    let mut reason = String::from("Draft prepared with redflag for analyst review. ");
    for a in &chosen {
        reason.push_str(&format!(
            "Alert {} (rank {}, risk {:.2}, {}): ",
            a.alert_id,
            a.rank,
            a.risk,
            a.typologies.join("; ")
        ));
        let why: Vec<String> = a
            .reasons
            .iter()
            .map(|r| format!("{} {} [{}]", r.rule_id, r.text, r.sources.join(", ")))
            .collect();
        reason.push_str(&why.join(" | "));
        reason.push_str(". ");
    }
    let submission = req
        .submission_date
        .clone()
        .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string());
    let rp = &e.reporting_person;
    let mut report = Node::new("report")
        .with(Node::leaf("rentity_id", e.rentity_id.to_string()))
        .opt("rentity_branch", e.rentity_branch.as_deref())
        .with(Node::leaf("submission_code", e.submission_code.clone()))
        .with(Node::leaf("report_code", e.report_code.clone()))
        .with(Node::leaf("entity_reference", chosen[0].case_id.clone()))
        .with(Node::leaf("submission_date", submission))
        .with(Node::leaf(
            "currency_code_local",
            e.currency_code_local.clone(),
        ))
        .with(
            Node::new("reporting_person")
                .with(Node::leaf("first_name", rp.first_name.clone()))
                .with(Node::leaf("last_name", rp.last_name.clone()))
                .opt("occupation", rp.occupation.as_deref())
                .opt("email", rp.email.as_deref()),
        )
        .with(Node::leaf("reason", reason.trim().to_owned()))
        .opt("action", e.action.as_deref());
    for t in &txns {
        report = report.with(
            Node::new("transaction")
                .with(Node::leaf("transactionnumber", t.id.clone()))
                .with(Node::leaf("date_transaction", goaml_time(t.ts)))
                .with(Node::leaf(
                    "transmode_code",
                    FiuMapping::code(&req.fiu.transmode, &t.channel),
                ))
                .with(Node::leaf("transmode_comment", t.channel.clone()))
                .with(Node::leaf("amount_local", format!("{:.2}", t.amount_base)))
                .with(side(t, &t.side[0], "from", e, req.fiu))
                .with(side(t, &t.side[1], "to", e, req.fiu)),
        );
    }
    let mut ind = Node::new("report_indicators");
    for code in indicators {
        ind = ind.with(Node::leaf("indicator", code));
    }
    report = report.with(ind);

    let xml = report.to_xml();
    // What is written must read back to the same tree and pass the structure check.
    let back = Node::parse(&xml)?;
    let problems = validate(&back);
    if back != report || !problems.is_empty() {
        return Err(Error::Output(format!(
            "the goAML draft failed its structure check: {}",
            problems.join("; ")
        )));
    }
    let fail = |e: &dyn std::fmt::Display| Error::Output(format!("{}: {e}", out.display()));
    let mut f = redflag_io::AtomicFile::create(out).map_err(|e| fail(&e))?;
    std::io::Write::write_all(&mut f, xml.as_bytes()).map_err(|e| fail(&e))?;
    f.commit().map_err(|e| fail(&e))?;
    Ok(Exported {
        transactions: txns.len(),
        report,
        logged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Node {
        Node::new("report")
            .with(Node::leaf("rentity_id", "1"))
            .with(Node::leaf("submission_code", "E"))
            .with(Node::leaf("report_code", "STR"))
            .with(Node::leaf("submission_date", "2024-05-01T00:00:00"))
            .with(Node::leaf("currency_code_local", "USD"))
            .with(
                Node::new("transaction")
                    .with(Node::leaf("transactionnumber", "T1"))
                    .with(Node::leaf("date_transaction", "2024-04-01T10:00:00"))
                    .with(Node::leaf("transmode_code", "A"))
                    .with(Node::leaf("amount_local", "10.00"))
                    .with(
                        Node::new("t_from")
                            .with(Node::leaf("from_funds_code", "K"))
                            .with(
                                Node::new("from_person")
                                    .with(Node::leaf("first_name", "A"))
                                    .with(Node::leaf("last_name", "B & C <D>")),
                            )
                            .with(Node::leaf("from_country", "US")),
                    )
                    .with(
                        Node::new("t_to")
                            .with(Node::leaf("to_funds_code", "K"))
                            .with(
                                Node::new("to_account")
                                    .with(Node::leaf("institution_name", "X"))
                                    .with(Node::leaf("swift", "XBUS01"))
                                    .with(Node::leaf("account", "1")),
                            )
                            .with(Node::leaf("to_country", "US")),
                    ),
            )
    }

    #[test]
    fn a_minimal_report_passes_and_round_trips() {
        let r = minimal();
        assert_eq!(validate(&r), Vec::<String>::new());
        let xml = r.to_xml();
        assert!(xml.contains("B &amp; C &lt;D&gt;"));
        assert_eq!(Node::parse(&xml).expect("parse"), r);
    }

    #[test]
    fn order_and_required_fields_are_enforced() {
        // Missing a required header field.
        let mut r = minimal();
        r.children.retain(|c| c.name != "submission_date");
        assert_eq!(validate(&r), ["report: missing required submission_date"]);
        // Out of order: report_code before submission_code.
        let mut r = minimal();
        r.children.swap(1, 2);
        assert!(
            validate(&r)
                .iter()
                .any(|p| p.contains("unexpected <submission_code>")),
            "{:?}",
            validate(&r)
        );
        // A transaction without its from side.
        let mut r = minimal();
        r.children[5].children.retain(|c| c.name != "t_from");
        assert_eq!(
            validate(&r),
            ["report/transaction: missing required t_from_my_client or t_from"]
        );
        // An account without its institution code, and an empty leaf.
        let mut r = minimal();
        let acc = &mut r.children[5].children[5].children[1];
        acc.children.retain(|c| c.name != "swift");
        acc.children[0].text = Some(" ".into());
        let p = validate(&r);
        assert!(
            p.contains(
                &"report/transaction/t_to/to_account: missing required institution_code or swift"
                    .to_owned()
            ),
            "{p:?}"
        );
        assert!(
            p.contains(&"report/transaction/t_to/to_account/institution_name: empty".to_owned()),
            "{p:?}"
        );
        // No transaction at all.
        let mut r = minimal();
        r.children.retain(|c| c.name != "transaction");
        assert_eq!(validate(&r), ["report: missing required transaction"]);
    }

    #[test]
    fn the_template_mapping_covers_the_built_in_pack() {
        let m = FiuMapping::parse(TEMPLATE_MAPPING, "template").expect("template");
        let pack = redflag_rules::RulePack::builtin();
        for r in &pack.rules {
            assert!(
                m.indicators.contains_key(&r.id),
                "no indicator for {}",
                r.id
            );
        }
        assert!(m.transmode.contains_key("other") && m.funds.contains_key("other"));
    }
}
