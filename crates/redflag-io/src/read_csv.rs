//! CSV and gzip-compressed CSV: header, blocks, and blocks into raw chunks.

use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufReader, Read};
use std::path::Path;

use arrow::array::StringBuilder;

use crate::chunk::{ChunkResult, StructuralFault, TextRows};
use crate::convert::Converter;
use crate::csv::{Block, BlockReader, FieldRange, RecordStatus, next_record, unescape};
use crate::error::{Error, Result};
use crate::plan::FilePlan;
use crate::reject::RejectReason;
use crate::source::Format;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Opens a text input, decompressing `.gz`.
pub(crate) fn open_text(path: &Path, format: Format) -> Result<Box<dyn Read + Send>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file = BufReader::with_capacity(1 << 20, file);
    Ok(match format {
        Format::CsvGz => Box::new(flate2::read::MultiGzDecoder::new(file)),
        _ => Box::new(file),
    })
}

/// Maps a read error to one that names the file, and for compressed input says it could not
/// be decompressed and from which line on (`line`: where the reader had got to).
pub(crate) fn read_error(path: &Path, format: Format, e: std::io::Error, line: u64) -> Error {
    let decoding = matches!(
        e.kind(),
        std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::UnexpectedEof
    );
    if format == Format::CsvGz && decoding {
        let truncated = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            " (the compressed data ends early: is the file truncated?)"
        } else {
            ""
        };
        Error::format(
            path,
            format!(
                "line {line}: cannot decompress: {e}{truncated}; expected a complete gzip-compressed CSV file"
            ),
        )
    } else {
        Error::io(path, e)
    }
}

/// Reads blocks of whole records; the first block starts with the header (BOM removed).
pub(crate) fn block_reader(
    path: &Path,
    format: Format,
    delim: Option<u8>,
    target: usize,
) -> Result<BlockReader<Box<dyn Read + Send>>> {
    let mut inner = open_text(path, format)?;
    let mut head = [0u8; 3];
    let mut got = 0;
    while got < 3 {
        match inner.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(path, format, e, 1)),
        }
    }
    let carry = if &head[..got] == BOM {
        Vec::new()
    } else {
        head[..got].to_vec()
    };
    Ok(BlockReader::new(inner, delim, 1, target, carry))
}

/// The header of a CSV file, or `None` when the file is empty.
pub(crate) fn read_header(path: &Path, format: Format, delim: u8) -> Result<Option<Vec<String>>> {
    let mut reader = block_reader(path, format, Some(delim), 1 << 16)?;
    let block = reader
        .next_block()
        .map_err(|e| read_error(path, format, e, reader.line_reached()))?;
    let Some(block) = block else { return Ok(None) };
    Ok(Some(parse_header(path, &block.bytes, delim)?.0))
}

/// Parses the header record; returns the names and where the data starts.
fn parse_header(path: &Path, bytes: &[u8], delim: u8) -> Result<(Vec<String>, usize, u64)> {
    if bytes.contains(&0) {
        return Err(Error::format(
            path,
            "the file holds NUL bytes: it looks binary, not CSV text (is it Parquet or compressed? name it .parquet or .csv.gz)",
        ));
    }
    let mut fields = Vec::new();
    let r = next_record(bytes, 0, delim, &mut fields);
    let text = std::str::from_utf8(&bytes[r.start..r.end]).map_err(|e| {
        Error::format(
            path,
            format!("line 1: the header is not valid UTF-8 ({e}); expected UTF-8 text"),
        )
    })?;
    let _ = text;
    let mut names = Vec::with_capacity(fields.len());
    for f in &fields {
        let s = String::from_utf8_lossy(&bytes[f.start..f.end]);
        names.push(if f.escaped {
            unescape(&s)
        } else {
            s.into_owned()
        });
    }
    Ok((
        crate::plan::normalize_header(names),
        r.next,
        r.inner_newlines + u64::from(r.terminated),
    ))
}

/// Turns one block into a converted chunk.
pub(crate) fn convert_block<S: BuildHasher>(
    block: Block,
    first: bool,
    delim: u8,
    conv: &Converter<'_>,
    hasher: &S,
) -> Result<ChunkResult> {
    let plan: &FilePlan = conv.plan;
    let bytes = &block.bytes;
    let (mut pos, mut line) = if first {
        let (_, start, lines) = parse_header(&plan.path, bytes, delim)?;
        (start, block.first_line + lines)
    } else {
        (0, block.first_line)
    };
    let whole = std::str::from_utf8(bytes).ok();
    let estimate = bytes.len() / 64 + 16;
    let mut builders: Vec<StringBuilder> = plan
        .slots
        .iter()
        .map(|_| StringBuilder::with_capacity(estimate, bytes.len() / plan.width.max(1)))
        .collect();
    let mut lines = Vec::with_capacity(estimate);
    let mut ranges = Vec::with_capacity(estimate);
    let mut structural = Vec::new();
    let mut blank = 0u64;
    let mut fields: Vec<FieldRange> = Vec::with_capacity(plan.width + 1);
    while pos < bytes.len() {
        let r = next_record(bytes, pos, delim, &mut fields);
        let this_line = line;
        line += r.inner_newlines + 1;
        pos = r.next;
        if r.start == r.end && r.status == RecordStatus::Ok {
            blank += 1;
            continue;
        }
        let fault = |column: String, reason, detail: String| StructuralFault {
            line: this_line,
            column,
            reason,
            detail,
            record: String::from_utf8_lossy(&bytes[r.start..r.end]).into_owned(),
        };
        let header_name = |i: usize| {
            plan.slots
                .iter()
                .position(|&s| s == i)
                .map(|s| plan.slot_names[s].clone())
                .unwrap_or_else(|| format!("#{}", i + 1))
        };
        match r.status {
            RecordStatus::OpenQuoteAtEof => {
                structural.push(fault(
                    String::new(),
                    RejectReason::TruncatedRecord,
                    "the file ends inside a quoted field; expected a closing quote".into(),
                ));
                continue;
            }
            RecordStatus::MalformedQuote(i) => {
                structural.push(fault(
                    header_name(i),
                    RejectReason::MalformedQuoting,
                    format!(
                        "field {} has text after its closing quote; expected a delimiter or line end",
                        i + 1
                    ),
                ));
                continue;
            }
            RecordStatus::Ok => {}
        }
        if fields.len() != plan.width {
            let (reason, detail) = if block.last && !r.terminated && fields.len() < plan.width {
                (
                    RejectReason::TruncatedRecord,
                    format!(
                        "the last record is cut short: {} of {} fields and no line end",
                        fields.len(),
                        plan.width
                    ),
                )
            } else {
                (
                    RejectReason::WrongFieldCount,
                    format!(
                        "expected {} fields (as in the header), found {}",
                        plan.width,
                        fields.len()
                    ),
                )
            };
            structural.push(fault(String::new(), reason, detail));
            continue;
        }
        // The whole block is UTF-8 in the common case; otherwise check this record's fields.
        let record_text: Option<&str> = match whole {
            Some(w) => Some(&w[r.start..r.end]),
            None => std::str::from_utf8(&bytes[r.start..r.end]).ok(),
        };
        let Some(record_text) = record_text else {
            let bad = fields
                .iter()
                .position(|f| std::str::from_utf8(&bytes[f.start..f.end]).is_err())
                .unwrap_or(0);
            structural.push(fault(
                header_name(bad),
                RejectReason::InvalidUtf8,
                format!("field {} is not valid UTF-8; expected UTF-8 text", bad + 1),
            ));
            continue;
        };
        for (b, &idx) in builders.iter_mut().zip(&plan.slots) {
            let f = fields[idx];
            let s = &record_text[f.start - r.start..f.end - r.start];
            if f.escaped {
                b.append_value(unescape(s));
            } else {
                b.append_value(s);
            }
        }
        lines.push(this_line);
        ranges.push((r.start, r.end));
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
