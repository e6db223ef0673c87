//! `when` expressions: parsed with DataFusion's SQL parser, checked against a whitelist of
//! constructs and the known feature columns, then planned into a DataFusion [`Expr`].
//!
//! Accepted: column names of `entity_features`, numeric / string / boolean literals and NULL,
//! arithmetic and comparison operators, AND / OR / NOT, IS \[NOT\] NULL / TRUE / FALSE,
//! \[NOT\] BETWEEN, \[NOT\] IN (literal list), CASE, CAST, parentheses, and the scalar functions in
//! [`SCALAR_FUNCTIONS`]. Everything else (subqueries, table functions such as `read_parquet`,
//! aggregates, window functions, wildcards, qualified names, placeholders, a second statement)
//! is refused with its position.

use std::fmt;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, Expr as Ast, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned,
    UnaryOperator, Value,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token};

/// Scalar functions a `when` expression may call.
pub const SCALAR_FUNCTIONS: &[&str] = &[
    "abs", "ceil", "floor", "round", "ln", "log10", "log2", "sqrt", "power", "greatest", "least",
    "coalesce", "nullif", "lower", "upper",
];

/// A `when` expression that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenError {
    /// 1-based line and column in the expression text (0 when unknown).
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What is wrong and what is accepted instead.
    pub message: String,
}

impl fmt::Display for WhenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "line {} column {}: {}",
                self.line, self.column, self.message
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

fn error_at(at: Location, message: impl Into<String>) -> WhenError {
    WhenError {
        line: at.line,
        column: at.column,
        message: message.into(),
    }
}

/// One `column <op> number` comparison of a `when` expression: the threshold an alert shows
/// next to the entity's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The feature column.
    pub column: String,
    /// The operator, as written (`>=`, `<`, `=`, ...), with the column on the left.
    pub op: String,
    /// The number compared with.
    pub value: f64,
}

/// A checked and planned `when` expression.
#[derive(Debug, Clone)]
pub struct When {
    /// The text as written in the pack.
    pub text: String,
    /// The DataFusion expression (boolean).
    pub expr: Expr,
    /// Feature columns it reads, sorted.
    pub columns: Vec<String>,
    /// Its `column <op> number` comparisons.
    pub thresholds: Vec<Threshold>,
}

/// Parses, checks and plans `text` against the `entity_features` schema.
pub fn compile(text: &str, schema: &SchemaRef, ctx: &SessionContext) -> Result<When, WhenError> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| WhenError {
            line: 0,
            column: 0,
            message: format!("cannot read it: {e}"),
        })?;
    let ast = parser.parse_expr().map_err(|e| WhenError {
        line: 0,
        column: 0,
        message: format!("not an expression: {e}"),
    })?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        let what = if next.token == Token::SemiColon {
            "a second statement (`;`) is not allowed: a rule is one expression".to_owned()
        } else {
            format!("unexpected `{}` after the expression", next.token)
        };
        return Err(error_at(next.span.start, what));
    }
    let mut check = Check {
        schema,
        columns: Vec::new(),
        thresholds: Vec::new(),
    };
    check.expr(&ast)?;
    let df_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| WhenError {
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    let expr = ctx
        .state()
        .create_logical_expr(text, &df_schema)
        .map_err(|e| WhenError {
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
    let ty = expr.get_type(&df_schema).map_err(|e| WhenError {
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    if ty != DataType::Boolean && ty != DataType::Null {
        return Err(WhenError {
            line: 0,
            column: 0,
            message: format!("the expression is {ty}, not a condition (true/false)"),
        });
    }
    check.columns.sort();
    check.columns.dedup();
    Ok(When {
        text: text.to_owned(),
        expr,
        columns: check.columns,
        thresholds: check.thresholds,
    })
}

struct Check<'a> {
    schema: &'a SchemaRef,
    columns: Vec<String>,
    thresholds: Vec<Threshold>,
}

impl Check<'_> {
    fn column(&mut self, ident: &ast::Ident) -> Result<(), WhenError> {
        let name = ident.value.as_str();
        if self.schema.field_with_name(name).is_ok() {
            self.columns.push(name.to_owned());
            return Ok(());
        }
        let hint = closest(name, self.schema.fields().iter().map(|f| f.name().as_str()))
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        Err(error_at(
            ident.span.start,
            format!("unknown column `{name}`{hint}; `redflag features --list` shows the columns"),
        ))
    }

    fn expr(&mut self, e: &Ast) -> Result<(), WhenError> {
        match e {
            Ast::Identifier(ident) => self.column(ident),
            Ast::Value(v) => match &v.value {
                Value::Number(..)
                | Value::SingleQuotedString(_)
                | Value::Boolean(_)
                | Value::Null => Ok(()),
                other => Err(error_at(
                    v.span.start,
                    format!("literal `{other}` is not accepted"),
                )),
            },
            Ast::BinaryOp { left, op, right } => {
                let allowed = matches!(
                    op,
                    BinaryOperator::Plus
                        | BinaryOperator::Minus
                        | BinaryOperator::Multiply
                        | BinaryOperator::Divide
                        | BinaryOperator::Modulo
                        | BinaryOperator::Gt
                        | BinaryOperator::Lt
                        | BinaryOperator::GtEq
                        | BinaryOperator::LtEq
                        | BinaryOperator::Eq
                        | BinaryOperator::NotEq
                        | BinaryOperator::And
                        | BinaryOperator::Or
                );
                if !allowed {
                    return Err(error_at(
                        e.span().start,
                        format!("operator `{op}` is not accepted"),
                    ));
                }
                self.threshold(left, op, right);
                self.expr(left)?;
                self.expr(right)
            }
            Ast::UnaryOp { op, expr } => match op {
                UnaryOperator::Not | UnaryOperator::Minus | UnaryOperator::Plus => self.expr(expr),
                other => Err(error_at(
                    e.span().start,
                    format!("operator `{other}` is not accepted"),
                )),
            },
            Ast::Nested(inner)
            | Ast::IsNull(inner)
            | Ast::IsNotNull(inner)
            | Ast::IsTrue(inner)
            | Ast::IsFalse(inner)
            | Ast::IsNotTrue(inner)
            | Ast::IsNotFalse(inner) => self.expr(inner),
            Ast::Between {
                expr, low, high, ..
            } => {
                self.expr(expr)?;
                self.expr(low)?;
                self.expr(high)
            }
            Ast::InList { expr, list, .. } => {
                self.expr(expr)?;
                for item in list {
                    if !matches!(item, Ast::Value(_)) {
                        return Err(error_at(item.span().start, "IN lists hold literals only"));
                    }
                }
                Ok(())
            }
            Ast::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                if let Some(o) = operand {
                    self.expr(o)?;
                }
                for c in conditions {
                    self.expr(&c.condition)?;
                    self.expr(&c.result)?;
                }
                match else_result {
                    Some(r) => self.expr(r),
                    None => Ok(()),
                }
            }
            Ast::Cast { expr, .. } => self.expr(expr),
            Ast::Function(f) => self.function(f, e),
            other => Err(error_at(other.span().start, refused(other))),
        }
    }

    fn function(&mut self, f: &ast::Function, e: &Ast) -> Result<(), WhenError> {
        let at = e.span().start;
        let name = f.name.to_string().to_ascii_lowercase();
        if !SCALAR_FUNCTIONS.contains(&name.as_str()) {
            return Err(error_at(
                at,
                format!(
                    "function `{name}` is not accepted (a rule may only call: {})",
                    SCALAR_FUNCTIONS.join(", ")
                ),
            ));
        }
        if f.filter.is_some()
            || f.over.is_some()
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
        {
            return Err(error_at(
                at,
                format!("`{name}` with FILTER / OVER / WITHIN GROUP is not accepted"),
            ));
        }
        if !matches!(f.parameters, FunctionArguments::None) {
            return Err(error_at(at, format!("`{name}` takes no parameters list")));
        }
        match &f.args {
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(error_at(
                        at,
                        format!("`{name}(DISTINCT / ORDER BY ...)` is not accepted"),
                    ));
                }
                for arg in &list.args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => self.expr(x)?,
                        _ => {
                            return Err(error_at(
                                at,
                                format!("`{name}` takes plain arguments only"),
                            ));
                        }
                    }
                }
                Ok(())
            }
            FunctionArguments::None => Ok(()),
            FunctionArguments::Subquery(_) => Err(error_at(at, "a subquery is not accepted")),
        }
    }

    /// Records `column <op> number` (or `number <op> column`, flipped).
    fn threshold(&mut self, left: &Ast, op: &BinaryOperator, right: &Ast) {
        let number = |e: &Ast| match e {
            Ast::Value(v) => match &v.value {
                Value::Number(n, _) => n.parse::<f64>().ok(),
                _ => None,
            },
            Ast::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match expr.as_ref() {
                Ast::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse::<f64>().ok().map(|x| -x),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        let (column, value, op) = match (left, right) {
            (Ast::Identifier(c), r) if number(r).is_some() => (c, number(r), op.to_string()),
            (l, Ast::Identifier(c)) if number(l).is_some() => {
                let flipped = match op {
                    BinaryOperator::Gt => "<",
                    BinaryOperator::Lt => ">",
                    BinaryOperator::GtEq => "<=",
                    BinaryOperator::LtEq => ">=",
                    _ => "=",
                };
                (c, number(l), flipped.to_owned())
            }
            _ => return,
        };
        let comparison = matches!(op.as_str(), ">" | "<" | ">=" | "<=" | "=" | "<>" | "!=");
        if let (true, Some(value)) = (comparison, value) {
            self.thresholds.push(Threshold {
                column: column.value.clone(),
                op,
                value,
            });
        }
    }
}

/// Names the refused construct for the error message.
fn refused(e: &Ast) -> String {
    match e {
        Ast::Subquery(_) | Ast::Exists { .. } | Ast::InSubquery { .. } => {
            "a subquery is not accepted: a rule reads only the entity's own feature columns".into()
        }
        Ast::CompoundIdentifier(parts) => format!(
            "qualified name `{}` is not accepted: write the bare column name",
            parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join(".")
        ),
        Ast::Wildcard(_) | Ast::QualifiedWildcard(..) => "`*` is not accepted".into(),
        other => format!("`{other}` is not accepted in a rule"),
    }
}

/// The candidate with the smallest edit distance, when it is close enough to be a typo.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 5))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_text(text: &str) -> Result<When, WhenError> {
        compile(text, &redflag_features::schema(), &SessionContext::new())
    }

    #[test]
    fn accepts_conditions_over_features_and_records_thresholds() {
        let w = compile_text(
            "ad_site_payments_30d >= 4 AND ad_site_weeks_30d >= 2 AND 100 >= ad_site_median_amount_30d \
             AND coalesce(night_share_30d, 0) < 0.5 AND entity_kind IN ('account', 'customer')",
        )
        .expect("valid");
        assert_eq!(
            w.columns,
            [
                "ad_site_median_amount_30d",
                "ad_site_payments_30d",
                "ad_site_weeks_30d",
                "entity_kind",
                "night_share_30d"
            ]
        );
        let t: Vec<(&str, &str, f64)> = w
            .thresholds
            .iter()
            .map(|t| (t.column.as_str(), t.op.as_str(), t.value))
            .collect();
        assert_eq!(
            t,
            [
                ("ad_site_payments_30d", ">=", 4.0),
                ("ad_site_weeks_30d", ">=", 2.0),
                ("ad_site_median_amount_30d", "<=", 100.0)
            ]
        );
    }

    #[test]
    fn refuses_hostile_and_wrong_expressions_with_their_position() {
        let cases = [
            (
                "n_in_30d > (SELECT count(*) FROM entity_features)",
                "subquery",
            ),
            ("EXISTS (SELECT 1)", "subquery"),
            ("n_in_30d IN (SELECT n_in_30d FROM t)", "subquery"),
            (
                "read_parquet('/etc/passwd') IS NOT NULL",
                "function `read_parquet` is not accepted",
            ),
            (
                "n_in_30d > 3; DROP TABLE entity_features",
                "second statement",
            ),
            (
                "n_in_3d > 3",
                "unknown column `n_in_3d` (did you mean `n_in_30d`?)",
            ),
            ("sum(n_in_30d) > 3", "function `sum` is not accepted"),
            ("t.n_in_30d > 3", "qualified name"),
            ("n_in_30d + 1", "not a condition"),
            ("n_in_30d > 3 n_out_30d", "unexpected"),
        ];
        for (text, want) in cases {
            let err = compile_text(text).expect_err(text);
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
        let err = compile_text("n_in_30d > 3 AND\n  bogus_col = 1").expect_err("unknown");
        assert_eq!((err.line, err.column), (2, 3));
    }
}
