//! Rule packs for redflag: cited red-flag rules as SQL expressions over entity features.
//!
//! A pack (TOML, see `models/rules/trafficking.toml`) holds one `[[rule]]` per indicator of
//! `docs/INDICATORS.md`: its id, group, severity, weight, a `when` condition over the columns of
//! `entity_features` (`redflag features --list`), a reason template that shows the values behind
//! a hit, and the sources it rests on. Each `when` is parsed into a DataFusion expression when
//! the pack loads; only expressions over known feature columns with whitelisted scalar functions
//! are accepted (see [`when`]), so a pack can never read a file or run a statement.
//!
//! ```
//! use redflag_rules::{RuleEngine, RulePack};
//!
//! let engine = RuleEngine::new(RulePack::builtin()).expect("the built-in pack is valid");
//! assert!(engine.rules().iter().any(|r| r.rule.id == "SE-1"));
//!
//! let bad = RulePack::from_toml(r#"
//! [pack]
//! name = "mine"
//! version = "1"
//! [[rule]]
//! id = "X-1"
//! name = "x"
//! group = "ST"
//! typology = "test"
//! severity = "low"
//! weight = 0.5
//! when = "n_in_30d > (SELECT 1)"
//! reason = "{n_in_30d} credits"
//! sources = ["none"]
//! "#, "mine.toml").unwrap();
//! let errors = RuleEngine::new(bad).unwrap_err();
//! assert!(errors[0].to_string().contains("subquery"));
//! ```

mod pack;
pub mod reference;
pub mod when;

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, SchemaRef, UInt32Type};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

pub use pack::{GROUPS, PackError, PackInfo, Policy, RoleHint, Rule, RulePack, Severity};
pub use reference::Reference;
pub use when::{Threshold, When, WhenError};

/// Features derived from country lists: they may raise a rule's severity (`escalate_when`) but
/// never make it fire (`docs/INDICATORS.md` §3, §4).
pub const COUNTRY_FEATURES: &[&str] = &["corridor_out_share_30d"];

/// Errors while evaluating a pack.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// DataFusion could not plan or evaluate an expression.
    #[error("rule {rule}: {source}")]
    Eval {
        /// The rule.
        rule: String,
        /// What DataFusion said.
        source: datafusion::error::DataFusionError,
    },
    /// The table is not an `entity_features` table.
    #[error("the feature table does not match the schema the rules were checked against: {0}")]
    Schema(String),
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule as written.
    pub rule: Rule,
    /// Its condition.
    pub when: When,
    /// Its escalation condition.
    pub escalate: Option<When>,
    /// Feature columns its reason template shows.
    pub reason_columns: Vec<String>,
    /// The reason template split once: literal text, then the column shown after it (if any).
    reason_parts: Vec<(String, Option<String>)>,
    physical: Arc<dyn PhysicalExpr>,
    escalate_physical: Option<Arc<dyn PhysicalExpr>>,
}

/// A checked pack, compiled against the `entity_features` schema.
pub struct RuleEngine {
    pack: RulePack,
    rules: Vec<CompiledRule>,
    schema: SchemaRef,
}

impl std::fmt::Debug for RuleEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleEngine")
            .field("pack", &self.pack.pack)
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// One fired rule for one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Row of the entity in the feature table.
    pub row: usize,
    /// Index of the rule in [`RuleEngine::rules`].
    pub rule: usize,
    /// Severity, after escalation.
    pub severity: Severity,
    /// The reason, with the entity's values filled in.
    pub reason: String,
    /// Values of the columns the rule compares, with the threshold of each comparison.
    pub values: Vec<(String, Option<f64>, Threshold)>,
}

/// The result of running a pack over a feature table.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Every hit, ordered by entity row then rule.
    pub hits: Vec<Hit>,
    /// Per entity row: whether the alert policy is met.
    pub alerted: Vec<bool>,
}

impl Evaluation {
    /// The hits of one entity row.
    pub fn hits_of(&self, row: usize) -> &[Hit] {
        let lo = self.hits.partition_point(|h| h.row < row);
        let hi = self.hits.partition_point(|h| h.row <= row);
        &self.hits[lo..hi]
    }
}

impl RuleEngine {
    /// Checks every rule of `pack` against the `entity_features` schema and compiles it; all
    /// problems are returned at once.
    pub fn new(pack: RulePack) -> Result<RuleEngine, Vec<PackError>> {
        let schema = redflag_features::schema();
        let ctx = SessionContext::new();
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| {
            vec![PackError {
                rule: None,
                field: None,
                message: e.to_string(),
            }]
        })?;
        let mut errors = pack.check_fields();
        let mut rules = Vec::new();
        for r in &pack.rules {
            let err = |field: &'static str, message: String| PackError {
                rule: Some(r.id.clone()),
                field: Some(field),
                message,
            };
            let compile = |text: &str, field: &'static str| {
                let w =
                    when::compile(text, &schema, &ctx).map_err(|e| err(field, e.to_string()))?;
                let p = ctx
                    .state()
                    .create_physical_expr(w.expr.clone(), &df_schema)
                    .map_err(|e| err(field, e.to_string()))?;
                Ok::<_, PackError>((w, p))
            };
            let when = compile(&r.when, "when");
            let escalate = r
                .escalate_when
                .as_deref()
                .map(|t| compile(t, "escalate_when"))
                .transpose();
            let reason_parts = template_parts(&r.reason);
            let reason_columns: Vec<String> =
                reason_parts.iter().filter_map(|(_, c)| c.clone()).collect();
            let unknown: Vec<&String> = reason_columns
                .iter()
                .filter(|c| schema.field_with_name(c).is_err())
                .collect();
            if !unknown.is_empty() {
                errors.push(err(
                    "reason",
                    format!(
                        "unknown column{} {}",
                        if unknown.len() > 1 { "s" } else { "" },
                        unknown
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if let Ok((w, _)) = &when
                && let Some(c) = w
                    .columns
                    .iter()
                    .find(|c| COUNTRY_FEATURES.contains(&c.as_str()))
            {
                errors.push(err(
                    "when",
                    format!("`{c}` comes from a country list, which may only raise severity: use it in escalate_when"),
                ));
            }
            match (when, escalate) {
                (Ok((when, physical)), Ok(escalate)) => {
                    let (escalate, escalate_physical) = match escalate {
                        Some((w, p)) => (Some(w), Some(p)),
                        None => (None, None),
                    };
                    rules.push(CompiledRule {
                        rule: r.clone(),
                        when,
                        escalate,
                        reason_columns,
                        reason_parts,
                        physical,
                        escalate_physical,
                    });
                }
                (w, e) => {
                    errors.extend(w.err());
                    errors.extend(e.err());
                }
            }
        }
        if errors.is_empty() {
            Ok(RuleEngine {
                pack,
                rules,
                schema,
            })
        } else {
            Err(errors)
        }
    }

    /// The pack's name, version, policy and file hash.
    pub fn pack(&self) -> &RulePack {
        &self.pack
    }

    /// The compiled rules, enabled or not, in pack order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Rows of `batch` where rule `k` (an index into [`RuleEngine::rules`]) fires, its
    /// `applies_to` respected: what threshold sweeps re-evaluate one rule at a time.
    pub fn fires(&self, k: usize, batch: &RecordBatch) -> Result<Vec<bool>, Error> {
        let r = &self.rules[k];
        if !r.rule.enabled {
            return Ok(vec![false; batch.num_rows()]);
        }
        let fired = run(&r.physical, batch, &r.rule.id)?;
        let kinds = batch
            .column_by_name(redflag_features::ENTITY_KIND)
            .map(|c| c.as_string::<i32>());
        Ok((0..batch.num_rows())
            .map(|row| {
                fired.is_valid(row)
                    && fired.value(row)
                    && (r.rule.applies_to.is_empty()
                        || kinds
                            .is_some_and(|k| r.rule.applies_to.iter().any(|a| a == k.value(row))))
            })
            .collect())
    }

    /// Whether `policy` alerts an entity on which the rules `fired` (indices) fired.
    pub fn policy_alerts(&self, policy: &Policy, fired: &[usize]) -> bool {
        let mut groups: Vec<&str> = fired
            .iter()
            .map(|&k| self.rules[k].rule.group.as_str())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        let hard = policy.hard_alerts_alone && fired.iter().any(|&k| self.rules[k].rule.hard);
        hard || (fired.len() >= policy.min_rules && groups.len() >= policy.min_groups)
    }

    /// An error unless `batch` has every column of the `entity_features` schema, typed so.
    fn check_schema(&self, batch: &RecordBatch) -> Result<(), Error> {
        for f in self.schema.fields() {
            match batch.schema().field_with_name(f.name()) {
                Ok(g) if g.data_type() == f.data_type() => {}
                _ => {
                    return Err(Error::Schema(format!(
                        "column `{}` missing or of another type",
                        f.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Runs every enabled rule over an `entity_features` batch and applies the alert policy.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Evaluation, Error> {
        self.check_schema(batch)?;
        let conditions = self
            .rules
            .iter()
            .map(|r| {
                if !r.rule.enabled {
                    return Ok(None);
                }
                Ok(Some(Conditions {
                    fired: run(&r.physical, batch, &r.rule.id)?,
                    escalated: r
                        .escalate_physical
                        .as_ref()
                        .map(|p| run(p, batch, &r.rule.id))
                        .transpose()?,
                }))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.apply(batch, &conditions)
    }

    /// [`RuleEngine::evaluate`] with the rules' conditions evaluated elsewhere, e.g. by a
    /// cluster: `conditions[k]` is what rule `k`'s `when` and `escalate_when` gave on the rows
    /// of `batch` (`None` for a disabled rule). The hits, reasons and alert policy are the
    /// local evaluation's, so the result is the same wherever the conditions were computed.
    pub fn evaluate_with(
        &self,
        batch: &RecordBatch,
        conditions: &[Option<Conditions>],
    ) -> Result<Evaluation, Error> {
        self.check_schema(batch)?;
        self.apply(batch, conditions)
    }

    /// Hits, reasons and the alert policy from the rules' conditions on `batch`, whose schema
    /// has been checked.
    fn apply(
        &self,
        batch: &RecordBatch,
        conditions: &[Option<Conditions>],
    ) -> Result<Evaluation, Error> {
        if conditions.len() != self.rules.len() {
            return Err(Error::Schema(format!(
                "{} rule results for {} rules",
                conditions.len(),
                self.rules.len()
            )));
        }
        let kinds = batch
            .column_by_name(redflag_features::ENTITY_KIND)
            .map(|c| c.as_string::<i32>());
        let mut hits = Vec::new();
        for (k, (r, c)) in self.rules.iter().zip(conditions).enumerate() {
            let Some(Conditions { fired, escalated }) = c.as_ref().filter(|_| r.rule.enabled)
            else {
                continue;
            };
            let short = |a: &BooleanArray| a.len() != batch.num_rows();
            if short(fired) || escalated.as_ref().is_some_and(short) {
                return Err(Error::Schema(format!(
                    "rule {}: results for another number of rows than the table's {}",
                    r.rule.id,
                    batch.num_rows()
                )));
            }
            for row in 0..batch.num_rows() {
                if !(fired.is_valid(row) && fired.value(row)) {
                    continue;
                }
                if !r.rule.applies_to.is_empty()
                    && !kinds.is_some_and(|k| r.rule.applies_to.iter().any(|a| a == k.value(row)))
                {
                    continue;
                }
                let up = escalated
                    .as_ref()
                    .is_some_and(|e| e.is_valid(row) && e.value(row));
                let severity = if up {
                    r.rule.severity.raised()
                } else {
                    r.rule.severity
                };
                let values = r
                    .when
                    .thresholds
                    .iter()
                    .map(|t| (t.column.clone(), number(batch, &t.column, row), t.clone()))
                    .collect();
                hits.push(Hit {
                    row,
                    rule: k,
                    severity,
                    reason: fill(&r.reason_parts, batch, row),
                    values,
                });
            }
        }
        hits.sort_by_key(|h| (h.row, h.rule));
        let mut ev = Evaluation {
            hits,
            alerted: vec![false; batch.num_rows()],
        };
        for row in 0..batch.num_rows() {
            let fired: Vec<usize> = ev.hits_of(row).iter().map(|h| h.rule).collect();
            ev.alerted[row] = self.policy_alerts(&self.pack.policy, &fired);
        }
        Ok(ev)
    }
}

/// What one rule's conditions gave on the rows of a feature table: its `when` and, when it has
/// one, its `escalate_when`. A row where a condition is NULL does not count as true.
#[derive(Debug, Clone)]
pub struct Conditions {
    /// The `when` condition.
    pub fired: BooleanArray,
    /// The `escalate_when` condition.
    pub escalated: Option<BooleanArray>,
}

/// A condition's result as a boolean column: a condition that is NULL for every row (type
/// Null, e.g. `NULL`) fires nowhere.
pub fn as_condition(v: &dyn Array) -> BooleanArray {
    match v.data_type() {
        DataType::Boolean => v.as_boolean().clone(),
        _ => BooleanArray::from(vec![None::<bool>; v.len()]),
    }
}

fn run(p: &Arc<dyn PhysicalExpr>, batch: &RecordBatch, rule: &str) -> Result<BooleanArray, Error> {
    let eval = |e| Error::Eval {
        rule: rule.to_owned(),
        source: e,
    };
    let v = p
        .evaluate(batch)
        .map_err(eval)?
        .into_array(batch.num_rows())
        .map_err(eval)?;
    Ok(as_condition(&v))
}

/// A reason template as (literal text, column shown after it) pairs; the last pair holds the
/// text after the final `{column}`.
fn template_parts(template: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let column = rest[open + 1..open + close].trim().to_owned();
        out.push((rest[..open].to_owned(), Some(column)));
        rest = &rest[open + close + 1..];
    }
    out.push((rest.to_owned(), None));
    out
}

/// The numeric value of `column` at `row` (None when null or not numeric).
fn number(batch: &RecordBatch, column: &str, row: usize) -> Option<f64> {
    let c = batch.column_by_name(column)?;
    if c.is_null(row) {
        return None;
    }
    match c.data_type() {
        DataType::UInt32 => Some(f64::from(c.as_primitive::<UInt32Type>().value(row))),
        DataType::Float64 => Some(c.as_primitive::<Float64Type>().value(row)),
        DataType::UInt8 => Some(f64::from(
            c.as_primitive::<arrow::datatypes::UInt8Type>().value(row),
        )),
        _ => None,
    }
}

/// A value for a reason: shares as percentages, whole numbers without decimals, others with up
/// to two.
fn show(batch: &RecordBatch, column: &str, row: usize) -> String {
    if let Some(c) = batch.column_by_name(column)
        && let DataType::Utf8 = c.data_type()
    {
        return c.as_string::<i32>().value(row).to_owned();
    }
    let share =
        redflag_features::feature(column).is_some_and(|d| d.unit == redflag_features::Unit::Share);
    match number(batch, column, row) {
        None => "n/a".to_owned(),
        Some(v) if share => format!("{:.0}%", v * 100.0),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => {
            let s = format!("{v:.2}");
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
    }
}

/// Fills a split reason template with the row's values.
fn fill(parts: &[(String, Option<String>)], batch: &RecordBatch, row: usize) -> String {
    let mut out = String::new();
    for (text, column) in parts {
        out.push_str(text);
        if let Some(c) = column {
            out.push_str(&show(batch, c, row));
        }
    }
    out
}
