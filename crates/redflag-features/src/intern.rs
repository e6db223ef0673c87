//! Parallel string interning: every distinct text of some string columns gets a dense `u32`
//! code, numbered in sorted text order so that codes (and everything derived from them) do
//! not depend on hashing, task split or thread count.

use arrow::array::{Array, StringArray};
use hashbrown::HashMap;
use rayon::prelude::*;
use redflag_schema::Text;

/// Code of a missing value (null, or a value the caller excluded).
pub const NONE: u32 = u32::MAX;

/// Distinct texts and the code of every value of the interned columns.
pub struct Interned {
    /// Text of each code, sorted.
    pub names: Vec<String>,
    /// One code vector per input column, aligned with its rows ([`NONE`] for nulls and
    /// excluded values).
    pub codes: Vec<Vec<u32>>,
}

/// A dictionary built by one task over a contiguous run of arrays.
struct Local<'a> {
    short: ShortTable,
    long: HashMap<&'a str, u32>,
    names: Vec<&'a str>,
    /// Local codes of each array of the run.
    codes: Vec<Vec<u32>>,
    /// The last dictionary seen, and the local code of each of its values interned so far:
    /// batches read from one Parquet column chunk share their dictionary, so its values are
    /// looked up once for all of them.
    memo: Option<(&'a StringArray, Vec<u32>)>,
}

/// Not looked up yet (in [`Local::memo`]).
const UNSEEN: u32 = u32::MAX - 1;

/// Whether two arrays are the same values (shared buffers).
fn same(a: &StringArray, b: &StringArray) -> bool {
    a.len() == b.len()
        && std::ptr::eq(a.values().as_ptr(), b.values().as_ptr())
        && std::ptr::eq(a.offsets().as_ptr(), b.offsets().as_ptr())
}

impl<'a> Local<'a> {
    fn new() -> Self {
        Local {
            short: ShortTable::new(),
            long: HashMap::new(),
            names: Vec::new(),
            codes: Vec::new(),
            memo: None,
        }
    }

    fn code(&mut self, text: &'a str) -> u32 {
        match Key::of(text) {
            Key::Short(k) => self.short_code(k, ShortTable::hash(k), text),
            Key::Long(t) => {
                let next = self.names.len() as u32;
                let names = &mut self.names;
                *self.long.entry(t).or_insert_with(|| {
                    names.push(t);
                    next
                })
            }
        }
    }

    fn short_code(&mut self, key: u128, hash: u64, text: &'a str) -> u32 {
        let next = self.names.len() as u32;
        let code = self.short.code(key, hash, next);
        if code == next {
            self.names.push(text);
        }
        code
    }

    /// Codes of plain (not dictionary-encoded) text, [`LOOKAHEAD`] rows at a time: the
    /// batch's home slots are read first, so that their cache misses overlap, then each row
    /// is looked up or added in order.
    fn plain(&mut self, a: &Text<'a>, exclude: Option<&str>) -> Vec<u32> {
        let n = a.len();
        let mut out = Vec::with_capacity(n);
        let mut keys = [(0u128, 0u64); LOOKAHEAD];
        let mut texts: [Option<&'a str>; LOOKAHEAD] = [None; LOOKAHEAD];
        for start in (0..n).step_by(LOOKAHEAD) {
            let rows = (n - start).min(LOOKAHEAD);
            for j in 0..rows {
                texts[j] = a.get(start + j).filter(|t| exclude != Some(*t));
                if let Some(Key::Short(k)) = texts[j].map(Key::of) {
                    keys[j] = (k, ShortTable::hash(k));
                }
            }
            // A loop of independent loads and nothing else, so that they all overlap.
            let touched = keys[..rows]
                .iter()
                .fold(0u32, |acc, &(_, h)| acc ^ self.short.touch(h));
            std::hint::black_box(touched);
            for j in 0..rows {
                out.push(match texts[j] {
                    None => NONE,
                    Some(t) if t.len() < 16 => self.short_code(keys[j].0, keys[j].1, t),
                    Some(t) => self.code(t),
                });
            }
        }
        out
    }

    /// The local code of every row of `a` ([`NONE`] for nulls and `exclude`).
    fn array(&mut self, a: &Text<'a>, exclude: Option<&str>) -> Vec<u32> {
        let (keys, values) = match *a {
            Text::Dict { keys, values, .. } => (keys, values),
            _ => return self.plain(a, exclude),
        };
        let mut memo = match self.memo.take() {
            Some((v, m)) if same(v, values) => m,
            _ => vec![UNSEEN; values.len()],
        };
        let codes = (0..keys.len())
            .map(|i| {
                if a.is_null(i) {
                    return NONE;
                }
                let k = keys[i] as usize;
                if memo[k] == UNSEEN {
                    let text = values.value(k);
                    memo[k] = if exclude == Some(text) {
                        NONE
                    } else {
                        self.code(text)
                    };
                }
                memo[k]
            })
            .collect();
        self.memo = Some((values, memo));
        codes
    }
}

/// Interns `columns`: each is a column given as its per-batch arrays (all columns cover the
/// same rows). Values equal to `exclude` and nulls get [`NONE`].
///
/// Each task interns a contiguous run of arrays into its own dictionary, reading its strings
/// once and in order (a dictionary-encoded array: each value it uses once); the dictionaries
/// are then merged and every code renumbered in sorted text order.
pub fn intern<'a>(columns: &[Vec<Text<'a>>], exclude: Option<&str>) -> Interned {
    let arrays: Vec<Text<'a>> = columns.iter().flatten().copied().collect();
    // One task per thread: each extra task's dictionary would cost the serial merge another
    // lookup of (nearly) every distinct text.
    let tasks = rayon::current_num_threads().clamp(1, arrays.len().max(1));
    let per_task = arrays.len().div_ceil(tasks).max(1);
    let locals: Vec<Local<'_>> = arrays
        .par_chunks(per_task)
        .map(|run| {
            let mut local = Local::new();
            for a in run {
                let codes = local.array(a, exclude);
                local.codes.push(codes);
            }
            local
        })
        .collect();

    // Merge: global codes in order of first appearance (hash lookups on packed keys), then
    // renumbered in sorted text order (comparing 16-byte big-endian prefixes first). The
    // first task's dictionary is that order's start already, so it becomes the global one.
    let mut global = Local::new();
    let mut firsts: Vec<Vec<u32>> = Vec::with_capacity(locals.len());
    let mut local_codes: Vec<Vec<Vec<u32>>> = Vec::with_capacity(locals.len());
    for mut l in locals {
        local_codes.push(std::mem::take(&mut l.codes));
        if firsts.is_empty() {
            firsts.push((0..l.names.len() as u32).collect());
            global = l;
        } else {
            firsts.push(l.names.iter().map(|n| global.code(n)).collect());
        }
    }
    let prefix: Vec<u128> = global.names.iter().map(|n| sort_prefix(n)).collect();
    let mut order: Vec<u32> = (0..global.names.len() as u32).collect();
    order.par_sort_unstable_by(|&a, &b| {
        prefix[a as usize]
            .cmp(&prefix[b as usize])
            .then_with(|| global.names[a as usize].cmp(global.names[b as usize]))
    });
    let mut rank = vec![0u32; order.len()];
    for (r, &g) in order.iter().enumerate() {
        rank[g as usize] = r as u32;
    }
    let remaps: Vec<Vec<u32>> = firsts
        .into_par_iter()
        .map(|f| f.into_iter().map(|g| rank[g as usize]).collect())
        .collect();
    let names: Vec<String> = order
        .par_iter()
        .map(|&g| global.names[g as usize].to_owned())
        .collect();

    // Renumber every array's codes straight into its place in its column, in parallel over
    // arrays (the columns start as untouched zeroed pages, so they are written only once).
    let mut codes: Vec<Vec<u32>> = columns
        .iter()
        .map(|col| vec![0u32; col.iter().map(|a| a.len()).sum()])
        .collect();
    let mut places: Vec<&mut [u32]> = Vec::with_capacity(arrays.len());
    for (col, v) in columns.iter().zip(codes.iter_mut()) {
        let mut rest = v.as_mut_slice();
        for a in col {
            let (head, tail) = rest.split_at_mut(a.len());
            places.push(head);
            rest = tail;
        }
    }
    let mut jobs = Vec::with_capacity(arrays.len());
    let mut places = places.into_iter();
    for (codes, remap) in local_codes.into_iter().zip(&remaps) {
        for c in codes {
            jobs.push((c, remap, places.next().unwrap_or_default()));
        }
    }
    jobs.into_par_iter().for_each(|(local, remap, place)| {
        assert_eq!(local.len(), place.len(), "one code per value");
        for (p, &c) in place.iter_mut().zip(&local) {
            *p = if c == NONE { NONE } else { remap[c as usize] };
        }
    });
    Interned { names, codes }
}

/// A text as a hash-map key: up to 15 bytes packed with their length into an integer, so
/// that lookups compare integers instead of following pointers into the string data.
enum Key<'a> {
    Short(u128),
    Long(&'a str),
}

impl<'a> Key<'a> {
    fn of(text: &'a str) -> Key<'a> {
        let b = text.as_bytes();
        let n = b.len();
        // Bytes `0..n` little-endian, zeros up to byte 15, which holds `n`: read as two
        // (possibly overlapping) fixed-size words rather than a variable-length copy.
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        let half = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
        let packed: u128 = match n {
            16.. => return Key::Long(text),
            8.. => {
                let tail = u128::from(word(n - 8)) >> (8 * (16 - n));
                u128::from(word(0)) | (tail << 64)
            }
            4.. => {
                let tail = u64::from(half(n - 4)) >> (8 * (8 - n));
                u128::from(u64::from(half(0)) | (tail << 32))
            }
            _ => b
                .iter()
                .enumerate()
                .fold(0u128, |k, (i, &c)| k | (u128::from(c) << (8 * i))),
        };
        Key::Short(packed | (u128::from(n as u8) << 120))
    }
}

/// Rows whose home slots are read ahead of their lookups in [`Local::plain`].
const LOOKAHEAD: usize = 16;

/// One slot of a [`ShortTable`].
#[derive(Clone, Copy)]
struct Slot {
    key: u128,
    code: u32,
}

/// Packed short keys (see [`Key`]) to codes: open addressing with linear probing in a
/// power-of-two array kept at most half full, so that a lookup usually reads one slot. An
/// empty slot holds [`EMPTY`], which no packed text equals (its length byte would be 255).
struct ShortTable {
    slots: Vec<Slot>,
    /// 64 − log2(slots): a hash's top bits pick its home slot.
    shift: u32,
    len: usize,
}

const EMPTY: u128 = u128::MAX;

impl ShortTable {
    fn new() -> Self {
        Self::with_slots(1 << 10)
    }

    fn with_slots(n: usize) -> Self {
        ShortTable {
            slots: vec![
                Slot {
                    key: EMPTY,
                    code: NONE
                };
                n
            ],
            shift: 64 - n.trailing_zeros(),
            len: 0,
        }
    }

    fn hash(key: u128) -> u64 {
        let (lo, hi) = (key as u64, (key >> 64) as u64);
        let x = (lo ^ hi.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (x ^ (x >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    /// Reads the home slot of `hash` (to bring it into cache ahead of its lookup).
    fn touch(&self, hash: u64) -> u32 {
        self.slots[self.home(hash)].code
    }

    /// The code of `key`, which gets `next` if it is new.
    fn code(&mut self, key: u128, hash: u64, next: u32) -> u32 {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s.key == key {
                return s.code;
            }
            if s.key == EMPTY {
                self.slots[i] = Slot { key, code: next };
                self.len += 1;
                return next;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let mut bigger = Self::with_slots(self.slots.len() * 2);
        for s in &self.slots {
            if s.key != EMPTY {
                bigger.code(s.key, Self::hash(s.key), s.code);
            }
        }
        *self = bigger;
    }
}

/// The first 16 bytes of a text, zero-padded, as a big-endian integer: ordering these orders
/// texts by their first 16 bytes (ties are broken on the whole text).
fn sort_prefix(text: &str) -> u128 {
    let b = text.as_bytes();
    let n = b.len().min(16);
    let mut buf = [0u8; 16];
    buf[..n].copy_from_slice(&b[..n]);
    u128::from_be_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_sorted_text_across_columns() {
        let long = "an identifier longer than fifteen bytes";
        let a1 = StringArray::from(vec![Some("b"), None, Some("CASH"), Some("a")]);
        let a2 = StringArray::from(vec![Some("c"), Some(long)]);
        let b1 = StringArray::from(vec![Some(long), Some("d"), Some("b"), Some("b")]);
        let b2 = StringArray::from(vec![Some("CASH"), Some("c")]);
        let t = |a| Text::of(a).expect("text");
        let got = intern(&[vec![t(&a1), t(&a2)], vec![t(&b1), t(&b2)]], Some("CASH"));
        assert_eq!(got.names, ["a", long, "b", "c", "d"]);
        assert_eq!(got.codes[0], [2, NONE, NONE, 0, 3, 1]);
        assert_eq!(got.codes[1], [1, 4, 2, 2, NONE, 3]);
    }

    #[test]
    fn short_keys_pack_bytes_then_length() {
        let text = "0123456789abcdefg";
        for n in 0..=16 {
            let t = &text[..n];
            match Key::of(t) {
                Key::Short(k) => {
                    let mut buf = [0u8; 16];
                    buf[..n].copy_from_slice(t.as_bytes());
                    buf[15] = n as u8;
                    assert_eq!(k, u128::from_le_bytes(buf), "length {n}");
                }
                Key::Long(l) => assert!(n == 16 && l == t, "length {n}"),
            }
        }
    }

    #[test]
    fn many_values_across_table_growth_match_a_sorted_reference() {
        use std::collections::BTreeSet;
        // 6,000 distinct ids (short, 15-byte and long), each seen several times, in arrays
        // whose lengths are not multiples of the lookahead, with nulls and an excluded value.
        let id = |i: usize| match i % 3 {
            0 => format!("ACC{i:09}"),
            1 => format!("W{i:014}"),
            _ => format!("customer-{i:08}-long-form"),
        };
        let rows: Vec<Option<String>> = (0..50_021)
            .map(|r| match r % 97 {
                0 => None,
                1 => Some("CASH".to_owned()),
                _ => Some(id((r * 7919) % 6_000)),
            })
            .collect();
        let arrays: Vec<StringArray> = rows
            .chunks(4_999)
            .map(|c| StringArray::from(c.to_vec()))
            .collect();
        let texts: Vec<Text<'_>> = arrays.iter().map(|a| Text::of(a).expect("text")).collect();
        // One task per thread: 1 has no merge, 3 merges two dictionaries into the first's.
        let under = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| intern(std::slice::from_ref(&texts), Some("CASH")))
        };
        let got = under(3);
        for threads in [1, 2] {
            let other = under(threads);
            assert_eq!(other.names, got.names, "{threads} threads");
            assert_eq!(other.codes, got.codes, "{threads} threads");
        }
        let distinct: Vec<String> = rows
            .iter()
            .flatten()
            .filter(|t| *t != "CASH")
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(got.names, distinct);
        for (r, (row, &code)) in rows.iter().zip(&got.codes[0]).enumerate() {
            match row.as_deref() {
                None | Some("CASH") => assert_eq!(code, NONE, "row {r}"),
                Some(t) => assert_eq!(got.names[code as usize], t, "row {r}"),
            }
        }
    }

    #[test]
    fn dictionaries_intern_like_plain_text_and_skip_unused_values() {
        use arrow::array::{DictionaryArray, Int32Array};
        use arrow::datatypes::Int32Type;
        use std::sync::Arc;
        // Two batches sharing one dictionary (as from one Parquet column chunk), one value
        // ("zz") used by no row, and a plain batch after them.
        let values: Arc<StringArray> = Arc::new(StringArray::from(vec!["b", "zz", "CASH", "a"]));
        let d1 = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![Some(0), None, Some(2), Some(3)]),
            values.clone(),
        )
        .expect("d1");
        let d2 = DictionaryArray::<Int32Type>::try_new(Int32Array::from(vec![3, 0]), values)
            .expect("d2");
        let p = StringArray::from(vec![Some("c"), Some("a")]);
        let t = |a| Text::of(a).expect("text");
        let got = intern(&[vec![t(&d1 as &dyn Array), t(&d2), t(&p)]], Some("CASH"));
        assert_eq!(got.names, ["a", "b", "c"], "unused values are not interned");
        assert_eq!(got.codes[0], [1, NONE, NONE, 0, 0, 1, 2, 0]);
    }
}
