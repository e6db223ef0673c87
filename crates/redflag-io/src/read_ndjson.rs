//! NDJSON: one JSON object per line; values become text and go through the CSV checks.

use std::hash::BuildHasher;
use std::path::Path;

use arrow::array::StringBuilder;
use memchr::memchr;
use serde_json::{Map, Value};

use crate::chunk::{ChunkResult, StructuralFault, TextRows};
use crate::convert::Converter;
use crate::csv::Block;
use crate::error::{Error, Result};
use crate::reject::RejectReason;
use crate::source::Format;

/// The keys of the first line that is a JSON object, in order: NDJSON's header. Lines before
/// it that are not objects are left for the reader to reject. `None` when the file has no
/// line at all; an error when no line is an object.
pub(crate) fn read_header(path: &Path) -> Result<Option<Vec<String>>> {
    let mut reader = crate::read_csv::block_reader(path, Format::Ndjson, None, 1 << 16)?;
    let mut first_error: Option<String> = None;
    while let Some(block) = reader
        .next_block()
        .map_err(|e| crate::read_csv::read_error(path, Format::Ndjson, e, reader.line_reached()))?
    {
        for (i, line) in block.bytes.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Map<String, Value>>(line) {
                Ok(obj) => return Ok(Some(obj.keys().cloned().collect())),
                Err(e) => {
                    first_error.get_or_insert_with(|| {
                        format!("line {}: {e}", block.first_line + i as u64)
                    });
                }
            }
        }
    }
    match first_error {
        None => Ok(None),
        Some(e) => Err(Error::format(
            path,
            format!(
                "no line is a JSON object (first fault: {e}); expected one JSON object per line"
            ),
        )),
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// Turns one block of lines into a converted chunk.
pub(crate) fn convert_block<S: BuildHasher>(
    block: Block,
    conv: &Converter<'_>,
    hasher: &S,
) -> Result<ChunkResult> {
    let plan = conv.plan;
    let bytes = &block.bytes;
    let mut builders: Vec<StringBuilder> =
        plan.slots.iter().map(|_| StringBuilder::new()).collect();
    let mut lines = Vec::new();
    let mut ranges = Vec::new();
    let mut structural = Vec::new();
    let mut blank = 0u64;
    let mut pos = 0usize;
    let mut line = block.first_line;
    while pos < bytes.len() {
        let end = memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |k| pos + k);
        let next = (end + 1).min(bytes.len());
        let (start, this_line) = (pos, line);
        pos = if end == bytes.len() { end } else { next };
        line += 1;
        let text = &bytes[start..end];
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            blank += 1;
            continue;
        }
        let fault = |reason, detail: String| StructuralFault {
            line: this_line,
            column: String::new(),
            reason,
            detail,
            record: String::from_utf8_lossy(text).into_owned(),
        };
        if std::str::from_utf8(text).is_err() {
            structural.push(fault(
                RejectReason::InvalidUtf8,
                "the line is not valid UTF-8; expected UTF-8 text".into(),
            ));
            continue;
        }
        let obj: Map<String, Value> = match serde_json::from_slice(text) {
            Ok(o) => o,
            Err(e) => {
                let reason = if block.last && end == bytes.len() && e.is_eof() {
                    RejectReason::TruncatedRecord
                } else {
                    RejectReason::MalformedJson
                };
                structural.push(fault(
                    reason,
                    format!("not a JSON object ({e}); expected one JSON object per line"),
                ));
                continue;
            }
        };
        for (b, name) in builders.iter_mut().zip(&plan.slot_names) {
            match obj.get(name).and_then(value_text) {
                Some(s) => b.append_value(s),
                None => b.append_value(""),
            }
        }
        lines.push(this_line);
        ranges.push((start, start + text.len()));
    }
    let text = TextRows {
        builders,
        lines,
        ranges,
        structural,
        blank,
    };
    text.convert(block.bytes, conv, hasher)
}
