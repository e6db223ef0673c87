//! CSV reading: blocks that end on record boundaries, and records split into fields.
//!
//! The grammar is RFC 4180 with the common liberties: `\n` or `\r\n` line ends, a quote opens a
//! quoted field only as the first character of a field (elsewhere it is an ordinary character),
//! `""` inside a quoted field is one quote, and a quoted field may hold delimiters and line breaks.
//! Text after a closing quote and before the next delimiter makes the record malformed.
//!
//! The reader splits the input into blocks of whole records with a quick scan (quote state only)
//! so that blocks can be parsed in parallel; [`next_record`] then parses a block record by record
//! with the same grammar.

use std::io::Read;

use memchr::{memchr, memchr_iter, memchr2};

/// A field of a record: byte range in the block, and whether `""` escapes must be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldRange {
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

/// How a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordStatus {
    /// A well-formed record.
    Ok,
    /// Text after a closing quote (at the field with this index).
    MalformedQuote(usize),
    /// The input ended inside a quoted field.
    OpenQuoteAtEof,
}

/// One record found by [`next_record`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordScan {
    /// Range of the record's text, without the line end.
    pub start: usize,
    pub end: usize,
    /// Where the next record starts.
    pub next: usize,
    /// Line breaks inside the record (in quoted fields).
    pub inner_newlines: u64,
    /// Whether the record was terminated by a line end (false: by the end of input).
    pub terminated: bool,
    pub status: RecordStatus,
}

/// Parses the record starting at `pos` into `fields` (cleared first).
pub(crate) fn next_record(
    buf: &[u8],
    pos: usize,
    delim: u8,
    fields: &mut Vec<FieldRange>,
) -> RecordScan {
    fields.clear();
    let len = buf.len();
    let mut i = pos;
    let mut status = RecordStatus::Ok;
    let mut quoted_any = false;
    loop {
        // At the start of a field.
        if i < len && buf[i] == b'"' {
            quoted_any = true;
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            let close = loop {
                match memchr(b'"', &buf[j..]) {
                    None => break None,
                    Some(k) => {
                        let q = j + k;
                        if buf.get(q + 1) == Some(&b'"') {
                            escaped = true;
                            j = q + 2;
                        } else {
                            break Some(q);
                        }
                    }
                }
            };
            let Some(q) = close else {
                fields.push(FieldRange {
                    start,
                    end: len,
                    escaped,
                });
                return RecordScan {
                    start: pos,
                    end: len,
                    next: len,
                    inner_newlines: count_newlines(&buf[pos..len]),
                    terminated: false,
                    status: RecordStatus::OpenQuoteAtEof,
                };
            };
            fields.push(FieldRange {
                start,
                end: q,
                escaped,
            });
            i = q + 1;
            // After the closing quote: a delimiter, a line end or the end of input.
            match buf.get(i) {
                Some(&c) if c == delim => {
                    i += 1;
                    continue;
                }
                None => return finish(buf, pos, len, len, false, status, quoted_any),
                Some(b'\n') => return finish(buf, pos, i, i + 1, true, status, quoted_any),
                Some(b'\r') if buf.get(i + 1) == Some(&b'\n') => {
                    return finish(buf, pos, i, i + 2, true, status, quoted_any);
                }
                Some(_) => {
                    if status == RecordStatus::Ok {
                        status = RecordStatus::MalformedQuote(fields.len() - 1);
                    }
                    // Skip to the next delimiter or line end, as the block scan does.
                    match memchr2(delim, b'\n', &buf[i..]) {
                        None => return finish(buf, pos, len, len, false, status, quoted_any),
                        Some(k) if buf[i + k] == delim => {
                            i += k + 1;
                            continue;
                        }
                        Some(k) => {
                            let nl = i + k;
                            return finish(buf, pos, nl, nl + 1, true, status, quoted_any);
                        }
                    }
                }
            }
        }
        // An unquoted field.
        match memchr2(delim, b'\n', &buf[i..]) {
            Some(k) if buf[i + k] == delim => {
                fields.push(FieldRange {
                    start: i,
                    end: i + k,
                    escaped: false,
                });
                i += k + 1;
            }
            Some(k) => {
                let nl = i + k;
                let end = if nl > i && buf[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                fields.push(FieldRange {
                    start: i,
                    end,
                    escaped: false,
                });
                return finish(buf, pos, end, nl + 1, true, status, quoted_any);
            }
            None => {
                let end = if len > i && buf[len - 1] == b'\r' {
                    len - 1
                } else {
                    len
                };
                fields.push(FieldRange {
                    start: i,
                    end,
                    escaped: false,
                });
                return finish(buf, pos, end, len, false, status, quoted_any);
            }
        }
    }
}

fn finish(
    buf: &[u8],
    start: usize,
    end: usize,
    next: usize,
    terminated: bool,
    status: RecordStatus,
    quoted_any: bool,
) -> RecordScan {
    let inner_newlines = if quoted_any {
        count_newlines(&buf[start..end])
    } else {
        0
    };
    RecordScan {
        start,
        end,
        next,
        inner_newlines,
        terminated,
        status,
    }
}

pub(crate) fn count_newlines(b: &[u8]) -> u64 {
    memchr_iter(b'\n', b).count() as u64
}

/// Undoes `""` escapes.
pub(crate) fn unescape(field: &str) -> String {
    field.replace("\"\"", "\"")
}

/// Finds the end (just past the line end) of the last complete record in `buf`, scanning with
/// the grammar of [`next_record`] but tracking only the quote state.
fn last_boundary(buf: &[u8], delim: u8) -> Option<usize> {
    let mut last = None;
    let mut rec_start = 0usize;
    let mut in_quote = false;
    let mut i = 0usize;
    while i < buf.len() {
        let hit = if in_quote {
            memchr(b'"', &buf[i..])
        } else {
            memchr2(b'"', b'\n', &buf[i..])
        };
        let Some(k) = hit else { break };
        let p = i + k;
        if buf[p] == b'\n' {
            last = Some(p + 1);
            rec_start = p + 1;
            i = p + 1;
        } else if in_quote {
            if buf.get(p + 1) == Some(&b'"') {
                i = p + 2;
            } else if p + 1 == buf.len() {
                // Cannot tell an escaped quote from a closing one yet.
                break;
            } else {
                in_quote = false;
                i = p + 1;
            }
        } else {
            if p == rec_start || buf[p - 1] == delim {
                in_quote = true;
            }
            i = p + 1;
        }
    }
    last
}

/// A block of whole records and the line its first record starts on.
pub(crate) struct Block {
    pub bytes: Vec<u8>,
    pub first_line: u64,
    /// The block ends the input.
    pub last: bool,
}

/// Reads an input as blocks of whole records.
pub(crate) struct BlockReader<R> {
    inner: R,
    /// The CSV delimiter, or `None` to split on line ends alone (NDJSON).
    delim: Option<u8>,
    carry: Vec<u8>,
    next_line: u64,
    target: usize,
    eof: bool,
}

impl<R: Read> BlockReader<R> {
    /// `first_line` is the line number of the first byte read from `inner`.
    pub fn new(
        inner: R,
        delim: Option<u8>,
        first_line: u64,
        target: usize,
        carry: Vec<u8>,
    ) -> Self {
        Self {
            inner,
            delim,
            carry,
            next_line: first_line,
            target,
            eof: false,
        }
    }

    /// The line the reader has reached: the line of the first byte it has not read yet (where
    /// a failed read stopped).
    pub fn line_reached(&self) -> u64 {
        self.next_line + count_newlines(&self.carry)
    }

    /// The next block, or `None` at the end of input.
    pub fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        loop {
            if self.eof {
                if self.carry.is_empty() {
                    return Ok(None);
                }
                let bytes = std::mem::take(&mut self.carry);
                return Ok(Some(self.emit(bytes, true)));
            }
            if self.carry.len() >= self.target
                && let Some(end) = match self.delim {
                    Some(d) => last_boundary(&self.carry, d),
                    None => memchr::memrchr(b'\n', &self.carry).map(|p| p + 1),
                }
            {
                let rest = self.carry.split_off(end);
                let bytes = std::mem::replace(&mut self.carry, rest);
                return Ok(Some(self.emit(bytes, false)));
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let want = self.target.max(self.carry.len()) + (1 << 16);
        let old = self.carry.len();
        self.carry.resize(old + want, 0);
        let mut filled = old;
        while filled < self.carry.len() {
            match self.inner.read(&mut self.carry[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Keep what was read, so that `line_reached` says where the read failed.
                    self.carry.truncate(filled);
                    return Err(e);
                }
            }
        }
        self.carry.truncate(filled);
        Ok(())
    }

    fn emit(&mut self, bytes: Vec<u8>, last: bool) -> Block {
        let first_line = self.next_line;
        self.next_line += count_newlines(&bytes);
        Block {
            bytes,
            first_line,
            last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(Vec<String>, RecordStatus, bool)> {
        let buf = text.as_bytes();
        let mut fields = Vec::new();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let r = next_record(buf, pos, b',', &mut fields);
            let f = fields
                .iter()
                .map(|f| {
                    let s = std::str::from_utf8(&buf[f.start..f.end]).expect("utf8");
                    if f.escaped { unescape(s) } else { s.to_owned() }
                })
                .collect();
            out.push((f, r.status, r.terminated));
            pos = r.next;
        }
        out
    }

    #[test]
    fn quoted_fields_hold_delimiters_quotes_and_newlines() {
        let r = records("a,\"b,c\",\"d\"\"e\"\r\n\"x\ny\",,z\n");
        assert_eq!(r[0].0, ["a", "b,c", "d\"e"]);
        assert_eq!(r[1].0, ["x\ny", "", "z"]);
        assert!(r.iter().all(|x| x.1 == RecordStatus::Ok && x.2));
    }

    #[test]
    fn quote_inside_unquoted_field_is_literal_and_text_after_close_is_malformed() {
        let r = records("ab\"c,d\n\"q\"x,e\n");
        assert_eq!(r[0].0, ["ab\"c", "d"]);
        assert_eq!(r[0].1, RecordStatus::Ok);
        assert_eq!(r[1].1, RecordStatus::MalformedQuote(0));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn open_quote_runs_to_end_of_input() {
        let r = records("a,b\n\"c,d\ne,f\n");
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].1, RecordStatus::OpenQuoteAtEof);
        assert!(!r[1].2);
    }

    #[test]
    fn blocks_end_on_record_boundaries_whatever_the_block_size() {
        let text = "h1,h2\n1,\"a\nb\"\n2,\"c\"\"\nd\"\n3,x\r\n4,\"\"\n5,y";
        for target in 1..text.len() + 2 {
            let mut reader = BlockReader::new(text.as_bytes(), Some(b','), 1, target, Vec::new());
            let mut joined = Vec::new();
            let mut lines = Vec::new();
            while let Some(b) = reader.next_block().expect("read") {
                // Every block but the last ends with a line end outside quotes.
                if !b.last {
                    assert_eq!(b.bytes.last(), Some(&b'\n'));
                    assert_eq!(last_boundary(&b.bytes, b','), Some(b.bytes.len()));
                }
                lines.push(b.first_line);
                joined.extend_from_slice(&b.bytes);
            }
            assert_eq!(joined, text.as_bytes(), "target {target}");
            assert_eq!(lines[0], 1);
        }
        let r = records(text);
        assert_eq!(r.len(), 6);
        assert_eq!(r[2].0, ["2", "c\"\nd"]);
        assert_eq!(r[5].0, ["5", "y"]);
        assert!(!r[5].2);
    }
}
