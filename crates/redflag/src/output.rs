//! Writing a run's outputs, each atomically (temporary name, then rename).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use rayon::prelude::*;
use redflag_io::{AtomicFile, push_csv_field, push_fixed};

use crate::engine::AlertSet;
use crate::{Error, Result};

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::Output(format!("{}: {e}", path.display()));
    let mut f = AtomicFile::create(path).map_err(|e| fail(&e))?;
    f.write_all(bytes).map_err(|e| fail(&e))?;
    f.commit().map_err(|e| fail(&e))
}

/// Creates the output directory `dir` (and its parents) when missing; a file of that name is
/// refused as such, not with the system's "File exists".
pub(crate) fn create_out_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Output(format!(
            "{}: exists and is not a directory; expected an output directory (--out)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Output(format!("{}: {e}", dir.display())))
}

/// `head`, then a line (or lines) per item of `items` appended by `line`: rendered in parallel
/// pieces, joined in item order.
pub(crate) fn render_in_pieces<T: Sync>(
    head: &str,
    items: &[T],
    line: impl Fn(&mut String, &T) -> Result<()> + Sync,
) -> Result<String> {
    let pieces: Vec<String> = items
        .par_chunks(4096)
        .map(|chunk| {
            let mut piece = String::new();
            for item in chunk {
                line(&mut piece, item)?;
            }
            Ok(piece)
        })
        .collect::<Result<_>>()?;
    let mut out = String::with_capacity(head.len() + pieces.iter().map(String::len).sum::<usize>());
    out.push_str(head);
    for piece in pieces {
        out.push_str(&piece);
    }
    Ok(out)
}

impl AlertSet {
    /// Writes `alerts.jsonl`, `alerts.csv`, `alerts.parquet`, `scores.csv`, `report.html` and
    /// `manifest.json` into `dir` (created when missing), and `reveal.map` first when the run is
    /// pseudonymous. `rejected.csv` is written during the run when the engine has an output
    /// directory.
    pub fn write(&self, dir: &Path) -> Result<()> {
        self.write_outputs(dir)?;
        self.write_manifest(dir)
    }

    /// [`AlertSet::write`] without the manifest.
    pub(crate) fn write_outputs(&self, dir: &Path) -> Result<()> {
        create_out_dir(dir)?;
        match &self.pseudonyms {
            Some(table) => write_file(
                &dir.join(crate::privacy::REVEAL_MAP),
                table.render_map()?.as_bytes(),
            )?,
            // A raw run into a directory that held a pseudonymous one: its map no longer
            // matches these outputs.
            None => match std::fs::remove_file(dir.join(crate::privacy::REVEAL_MAP)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Output(format!("{}: {e}", dir.display())));
                }
                _ => {}
            },
        }
        // The other outputs do not depend on each other: they are rendered and written side by
        // side; the manifest, which says the run is complete, only once all of them are.
        let outputs: [&(dyn Fn() -> Result<()> + Sync); 5] = [
            &|| write_file(&dir.join("alerts.jsonl"), self.render_jsonl()?.as_bytes()),
            &|| write_file(&dir.join("alerts.csv"), self.render_alerts_csv().as_bytes()),
            &|| self.write_parquet(&dir.join("alerts.parquet")),
            &|| {
                write_file(
                    &dir.join("report.html"),
                    crate::report::render(self).as_bytes(),
                )
            },
            &|| {
                write_file(
                    &dir.join("scores.csv"),
                    self.render_scores_csv()?.as_bytes(),
                )
            },
        ];
        outputs
            .par_iter()
            .map(|write| write())
            .collect::<Result<Vec<()>>>()?;
        Ok(())
    }

    /// `manifest.json`, which says the run is complete: written after every other output.
    pub(crate) fn write_manifest(&self, dir: &Path) -> Result<()> {
        let manifest = serde_json::to_string_pretty(&self.manifest)
            .map_err(|e| Error::Output(e.to_string()))?;
        write_file(&dir.join("manifest.json"), manifest.as_bytes())
    }
}

impl AlertSet {
    /// `alerts.jsonl`: one alert record per line, serialized in parallel.
    fn render_jsonl(&self) -> Result<String> {
        let lines = self
            .alerts
            .par_iter()
            .map(|a| serde_json::to_string(a).map_err(|e| Error::Output(e.to_string())))
            .collect::<Result<Vec<String>>>()?;
        let mut jsonl = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for l in lines {
            jsonl.push_str(&l);
            jsonl.push('\n');
        }
        Ok(jsonl)
    }

    /// `alerts.csv`: one row per alert, lists joined by spaces (reasons by ` | `).
    fn render_alerts_csv(&self) -> String {
        let mut csv = String::from(
            "rank,alert_id,entity_id,entity_kind,risk,rule_score,anomaly_score,anomaly_only,role_hint,case_id,rule_ids,reasons,top_features,evidence_txn_ids\n",
        );
        for a in &self.alerts {
            let fields = [
                a.rank.to_string(),
                a.alert_id.clone(),
                a.entity_id.clone(),
                a.entity_kind.clone(),
                format!("{:.6}", a.risk),
                format!("{:.6}", a.rule_score),
                format!("{:.6}", a.anomaly_score),
                a.anomaly_only.to_string(),
                a.role_hint.clone(),
                a.case_id.clone(),
                a.reasons
                    .iter()
                    .map(|r| r.rule_id.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                a.reasons
                    .iter()
                    .map(|r| format!("{}: {}", r.rule_id, r.text))
                    .collect::<Vec<_>>()
                    .join(" | "),
                a.top_features
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                a.evidence_txn_ids.join(" "),
            ];
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    csv.push(',');
                }
                push_csv_field(&mut csv, f);
            }
            csv.push('\n');
        }
        csv
    }

    /// `scores.csv`: every entity scored, in rank order.
    fn render_scores_csv(&self) -> Result<String> {
        let header = "entity_id,entity_kind,risk,rule_score,anomaly_score,rank\n";
        render_in_pieces(header, &self.scores, |out, s| {
            push_csv_field(out, &s.entity_id);
            out.push(',');
            out.push_str(&s.entity_kind);
            for v in [s.risk, s.rule_score, s.anomaly_score] {
                out.push(',');
                push_fixed(out, v, 6);
            }
            let _ = writeln!(out, ",{}", s.rank);
            Ok(())
        })
    }

    /// `alerts.parquet`: the columns of `alerts.csv`, typed, with lists for rule ids, reasons,
    /// typologies, top features and evidence.
    fn write_parquet(&self, path: &Path) -> Result<()> {
        use arrow::array::{
            ArrayRef, BooleanArray, Float64Array, ListBuilder, StringArray, StringBuilder,
            UInt32Array,
        };
        use arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;
        let fail = |e: &dyn std::fmt::Display| Error::Output(format!("{}: {e}", path.display()));
        let text = |f: &dyn Fn(&crate::Alert) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(self.alerts.iter().map(f)))
        };
        let num = |f: &dyn Fn(&crate::Alert) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(self.alerts.iter().map(f)))
        };
        let list = |f: &dyn Fn(&crate::Alert) -> Vec<String>| -> ArrayRef {
            let mut b = ListBuilder::new(StringBuilder::new());
            for a in &self.alerts {
                for v in f(a) {
                    b.values().append_value(v);
                }
                b.append(true);
            }
            Arc::new(b.finish())
        };
        let item = || Arc::new(Field::new("item", DataType::Utf8, true));
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "rank",
                Arc::new(UInt32Array::from_iter_values(
                    self.alerts.iter().map(|a| a.rank as u32),
                )),
            ),
            ("alert_id", text(&|a| a.alert_id.clone())),
            ("entity_id", text(&|a| a.entity_id.clone())),
            ("entity_kind", text(&|a| a.entity_kind.clone())),
            ("risk", num(&|a| a.risk)),
            ("rule_score", num(&|a| a.rule_score)),
            ("anomaly_score", num(&|a| a.anomaly_score)),
            ("anomaly_percentile", num(&|a| a.anomaly_percentile)),
            (
                "anomaly_only",
                Arc::new(BooleanArray::from_iter(
                    self.alerts.iter().map(|a| Some(a.anomaly_only)),
                )),
            ),
            ("role_hint", text(&|a| a.role_hint.clone())),
            ("case_id", text(&|a| a.case_id.clone())),
            (
                "rule_ids",
                list(&|a| a.reasons.iter().map(|r| r.rule_id.clone()).collect()),
            ),
            (
                "reasons",
                list(&|a| {
                    a.reasons
                        .iter()
                        .map(|r| format!("{}: {}", r.rule_id, r.text))
                        .collect()
                }),
            ),
            ("typologies", list(&|a| a.typologies.clone())),
            (
                "top_features",
                list(&|a| a.top_features.iter().map(|t| t.name.clone()).collect()),
            ),
            ("evidence_txn_ids", list(&|a| a.evidence_txn_ids.clone())),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, array)| match array.data_type() {
                DataType::List(_) => Field::new(*name, DataType::List(item()), false),
                t => Field::new(*name, t.clone(), false),
            })
            .collect();
        let batch = arrow::array::RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .map_err(|e| fail(&e))?;
        let file = AtomicFile::create(path).map_err(|e| fail(&e))?;
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
            .map_err(|e| fail(&e))?;
        w.write(&batch).map_err(|e| fail(&e))?;
        w.into_inner()
            .map_err(|e| fail(&e))?
            .commit()
            .map_err(|e| fail(&e))
    }
}
