//! Rule evaluation on a DataFusion Ballista cluster (cargo feature `distributed`).
//!
//! [`Engine::cluster`](crate::Engine::cluster) names a scheduler (`df://HOST:PORT`), or
//! `standalone` for a scheduler and an executor started in this process on loopback. The run
//! then writes the entity feature table as Parquet files to a staging directory the executors can
//! read (a shared mount on a real cluster), and every enabled rule's `when` and `escalate_when`
//! become one projection that Ballista plans, splits over the table's partitions and executes.
//! The boolean columns come back keyed by row, and [`RuleEngine::evaluate_with`] turns them
//! into hits, reasons and the alert policy exactly as a local run does, so alerts and scores
//! are byte-identical to a local run on the same data (held by `tests/cluster.rs`).
//!
//! Features, the isolation forest and ranking still run on the machine that runs redflag; see
//! `docs/cluster-scale.md` for how they split.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, UInt32Type};
use ballista::prelude::SessionContextExt;
use datafusion::prelude::{ParquetReadOptions, SessionContext, col};
use redflag_rules::{Conditions, RuleEngine};

use crate::{Error, Result};

/// The column that carries each row's position through the cluster.
const ROW: &str = "__redflag_row";

/// A connection to a Ballista scheduler, with the runtime its client (and, for `standalone`,
/// its in-process scheduler and executor) run on.
pub(crate) struct Cluster {
    url: String,
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
    staging: PathBuf,
}

impl Cluster {
    /// Connects to `url` (`df://HOST:PORT` or `standalone`) and checks that the scheduler
    /// answers, so that a wrong address fails before the feature pass, not after it.
    pub(crate) fn connect(url: &str, staging: &Path) -> Result<Cluster> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::Config(format!(
                "cluster {url}: {e} (is a Ballista scheduler listening there?)"
            ))
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| fail(&e))?;
        let ctx = runtime.block_on(async {
            let ctx = if url == "standalone" {
                SessionContext::standalone().await?
            } else if url.starts_with("df://") {
                SessionContext::remote(url).await?
            } else {
                return Err(datafusion::error::DataFusionError::Configuration(
                    "expected df://HOST:PORT or standalone".into(),
                ));
            };
            ctx.sql("SELECT 1").await?.collect().await?;
            Ok(ctx)
        });
        let ctx = ctx.map_err(|e| fail(&e))?;
        let staging = std::path::absolute(staging)
            .map_err(|e| Error::Config(format!("{}: {e}", staging.display())))?;
        Ok(Cluster {
            url: url.to_owned(),
            runtime,
            ctx,
            staging,
        })
    }

    /// The scheduler's address as given.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Every enabled rule's conditions over `table` (an `entity_features` batch), evaluated by
    /// the cluster; in rule order, `None` for a disabled rule, as
    /// [`RuleEngine::evaluate_with`] takes them.
    pub(crate) fn conditions(
        &self,
        engine: &RuleEngine,
        table: &RecordBatch,
    ) -> Result<Vec<Option<Conditions>>> {
        let dir = Staging::create(&self.staging)?;
        write_with_rows(table, &dir.0)?;
        let mut exprs = vec![col(ROW)];
        for (k, r) in engine.rules().iter().enumerate() {
            if !r.rule.enabled {
                continue;
            }
            exprs.push(r.when.expr.clone().alias(format!("w{k}")));
            if let Some(e) = &r.escalate {
                exprs.push(e.expr.clone().alias(format!("e{k}")));
            }
        }
        let path_text = format!("{}/", dir.0.display());
        let batches = self
            .runtime
            .block_on(async {
                self.ctx
                    .read_parquet(path_text, ParquetReadOptions::default())
                    .await?
                    .select(exprs)?
                    .collect()
                    .await
            })
            .map_err(|e| Error::Config(format!("cluster {}: rule evaluation: {e}", self.url)))?;
        let n = table.num_rows();
        let column = |name: &str| gather(&batches, name, n);
        engine
            .rules()
            .iter()
            .enumerate()
            .map(|(k, r)| {
                if !r.rule.enabled {
                    return Ok(None);
                }
                Ok(Some(Conditions {
                    fired: column(&format!("w{k}"))?,
                    escalated: r
                        .escalate
                        .as_ref()
                        .map(|_| column(&format!("e{k}")))
                        .transpose()?,
                }))
            })
            .collect()
    }
}

/// A staging directory of one evaluation, removed when dropped.
struct Staging(PathBuf);

impl Staging {
    fn create(parent: &Path) -> Result<Staging> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = parent.join(format!(".redflag-staging-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Output(format!("{}: {e}", dir.display())))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The most files the feature table is staged as: the scheduler gives each file (or part of
/// one) to a task, so this bounds how widely one evaluation spreads.
const MAX_FILES: usize = 64;

/// Writes `table`, with its row positions as a last column, as Parquet files in `dir`: about
/// [`MAX_FILES`] of them (at least 256 rows each), so that the scheduler can spread the
/// evaluation over its executors.
fn write_with_rows(table: &RecordBatch, dir: &Path) -> Result<()> {
    let out = |e: &dyn std::fmt::Display| Error::Output(format!("{}: {e}", dir.display()));
    let n = table.num_rows();
    let rows = u32::try_from(n).map_err(|e| out(&e))?;
    let mut fields: Vec<Arc<Field>> = table.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(ROW, DataType::UInt32, false)));
    let mut columns = table.columns().to_vec();
    columns.push(Arc::new(UInt32Array::from_iter_values(0..rows)));
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| out(&e))?;
    let per_file = n.div_ceil(MAX_FILES).max(256);
    for (i, start) in (0..n.max(1)).step_by(per_file).enumerate() {
        let path = dir.join(format!("part-{i:03}.parquet"));
        let file = std::fs::File::create(&path).map_err(|e| out(&e))?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
            .map_err(|e| out(&e))?;
        writer
            .write(&batch.slice(start, per_file.min(n - start)))
            .map_err(|e| out(&e))?;
        writer.close().map_err(|e| out(&e))?;
    }
    Ok(())
}

/// Column `name` of the cluster's result batches, put back in row order (the batches arrive
/// in whatever order the partitions finish). Every row must come back exactly once.
fn gather(batches: &[RecordBatch], name: &str, n: usize) -> Result<BooleanArray> {
    let mut values: Vec<Option<bool>> = vec![None; n];
    let mut seen = vec![false; n];
    for b in batches {
        let lost = |what: &str| Error::Output(format!("cluster result: {what}"));
        let rows = b
            .column_by_name(ROW)
            .ok_or_else(|| lost("no row column"))?
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| lost("row column of another type"))?;
        let v = redflag_rules::as_condition(
            b.column_by_name(name)
                .ok_or_else(|| lost(&format!("no column {name}")))?
                .as_ref(),
        );
        for i in 0..b.num_rows() {
            let row = rows.value(i) as usize;
            if row >= n || seen[row] {
                return Err(lost(&format!("row {row} out of range or returned twice")));
            }
            seen[row] = true;
            values[row] = v.is_valid(i).then(|| v.value(i));
        }
    }
    if let Some(row) = seen.iter().position(|s| !s) {
        return Err(Error::Output(format!(
            "cluster result: row {row} of {n} did not come back"
        )));
    }
    Ok(BooleanArray::from(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(rows: &[u32], fired: &[Option<bool>]) -> RecordBatch {
        RecordBatch::try_from_iter([
            (ROW, Arc::new(UInt32Array::from(rows.to_vec())) as _),
            ("w0", Arc::new(BooleanArray::from(fired.to_vec())) as _),
        ])
        .expect("batch")
    }

    #[test]
    fn results_are_put_back_in_row_order_and_every_row_must_come_back_once() {
        let parts = [
            part(&[3, 1], &[Some(true), None]),
            part(&[0, 2], &[Some(false), Some(true)]),
        ];
        let got = gather(&parts, "w0", 4).expect("gather");
        assert_eq!(
            got,
            BooleanArray::from(vec![Some(false), None, Some(true), Some(true)])
        );

        let twice = [part(&[0, 1], &[None, None]), part(&[1], &[None])];
        let err = gather(&twice, "w0", 2).expect_err("row 1 twice");
        assert!(err.to_string().contains("row 1"), "{err}");
        let err = gather(&parts[..1], "w0", 4).expect_err("rows 0 and 2 missing");
        assert!(err.to_string().contains("row 0 of 4"), "{err}");
        assert!(gather(&parts, "w9", 4).is_err());
    }
}
