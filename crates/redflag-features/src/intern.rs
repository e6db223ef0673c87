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
    short: HashMap<u128, u32>,
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
    fn code(&mut self, text: &'a str) -> u32 {
        let next = self.names.len() as u32;
        let names = &mut self.names;
        let mut add = || {
            names.push(text);
            next
        };
        match Key::of(text) {
            Key::Short(k) => *self.short.entry(k).or_insert_with(&mut add),
            Key::Long(t) => *self.long.entry(t).or_insert_with(add),
        }
    }

    /// The local code of every row of `a` ([`NONE`] for nulls and `exclude`).
    fn array(&mut self, a: &Text<'a>, exclude: Option<&str>) -> Vec<u32> {
        let (keys, values) = match *a {
            Text::Dict { keys, values, .. } => (keys, values),
            _ => {
                return (0..a.len())
                    .map(|i| match a.get(i) {
                        Some(text) if exclude != Some(text) => self.code(text),
                        _ => NONE,
                    })
                    .collect();
            }
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
    let tasks = (rayon::current_num_threads() * 2).clamp(1, arrays.len().max(1));
    let per_task = arrays.len().div_ceil(tasks).max(1);
    let locals: Vec<Local<'_>> = arrays
        .par_chunks(per_task)
        .map(|run| {
            let mut local = Local {
                short: HashMap::new(),
                long: HashMap::new(),
                names: Vec::new(),
                codes: Vec::with_capacity(run.len()),
                memo: None,
            };
            for a in run {
                let codes = local.array(a, exclude);
                local.codes.push(codes);
            }
            local
        })
        .collect();

    // Merge: global codes in order of first appearance (hash lookups on packed keys), then
    // renumbered in sorted text order (comparing 16-byte big-endian prefixes first).
    let mut global = Local {
        short: HashMap::new(),
        long: HashMap::new(),
        names: Vec::new(),
        codes: Vec::new(),
        memo: None,
    };
    let firsts: Vec<Vec<u32>> = locals
        .iter()
        .map(|l| l.names.iter().map(|n| global.code(n)).collect())
        .collect();
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
        .into_iter()
        .map(|f| f.into_iter().map(|g| rank[g as usize]).collect())
        .collect();
    let names: Vec<String> = order
        .iter()
        .map(|&g| global.names[g as usize].to_owned())
        .collect();

    // Renumber every array's codes, in parallel over arrays.
    let mut jobs: Vec<(Vec<u32>, &Vec<u32>)> = Vec::with_capacity(arrays.len());
    for (l, remap) in locals.into_iter().zip(&remaps) {
        jobs.extend(l.codes.into_iter().map(|c| (c, remap)));
    }
    let per_array: Vec<Vec<u32>> = jobs
        .into_par_iter()
        .map(|(mut codes, remap)| {
            for c in &mut codes {
                if *c != NONE {
                    *c = remap[*c as usize];
                }
            }
            codes
        })
        .collect();

    let mut codes = Vec::with_capacity(columns.len());
    let mut it = per_array.into_iter();
    for col in columns {
        let mut v = Vec::with_capacity(col.iter().map(|a| a.len()).sum());
        for c in it.by_ref().take(col.len()) {
            v.extend_from_slice(&c);
        }
        codes.push(v);
    }
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
        if b.len() < 16 {
            let mut buf = [0u8; 16];
            buf[..b.len()].copy_from_slice(b);
            buf[15] = b.len() as u8;
            Key::Short(u128::from_le_bytes(buf))
        } else {
            Key::Long(text)
        }
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
