//! Read access to the text columns of an accepted table.
//!
//! Identifier columns (`txn_id`, `sender_id`, `receiver_id`) are stored as `Utf8`. The other text
//! columns (names, customer ids, places, devices, codes; [`crate::text_type`]) are stored as
//! dictionaries, because their values repeat: a Parquet file's dictionary pages are kept as they
//! are instead of being expanded, and a value is checked, mapped or interned once per distinct
//! value instead of once per row. [`Text`] reads either form (and the enum columns'
//! `UInt8`-keyed dictionaries) by row.

use arrow::array::{Array, AsArray, StringArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{Int32Type, UInt8Type};

/// A text column of a batch, plain or dictionary-encoded.
#[derive(Debug, Clone, Copy)]
pub enum Text<'a> {
    /// One string per row.
    Plain(&'a StringArray),
    /// `Int32` keys into `values` (the text columns of [`crate::text_type`]).
    Dict {
        /// Index into `values` of each row (meaningless where the row is null).
        keys: &'a [i32],
        /// Validity of the rows.
        nulls: Option<&'a NullBuffer>,
        /// The dictionary (may hold values no row uses).
        values: &'a StringArray,
    },
    /// `UInt8` keys into `values` (the enum columns).
    Enum {
        /// Index into `values` of each row (meaningless where the row is null).
        keys: &'a [u8],
        /// Validity of the rows.
        nulls: Option<&'a NullBuffer>,
        /// The enum's value list.
        values: &'a StringArray,
    },
}

impl<'a> Text<'a> {
    /// The column as text, or `None` when it is neither `Utf8` nor a dictionary of `Utf8` with
    /// `Int32` or `UInt8` keys.
    pub fn of(a: &'a dyn Array) -> Option<Self> {
        if let Some(s) = a.as_string_opt::<i32>() {
            return Some(Text::Plain(s));
        }
        if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
            return Some(Text::Dict {
                keys: d.keys().values(),
                nulls: d.keys().nulls(),
                values: d.values().as_string_opt::<i32>()?,
            });
        }
        let d = a.as_dictionary_opt::<UInt8Type>()?;
        Some(Text::Enum {
            keys: d.keys().values(),
            nulls: d.keys().nulls(),
            values: d.values().as_string_opt::<i32>()?,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Text::Plain(s) => s.len(),
            Text::Dict { keys, .. } => keys.len(),
            Text::Enum { keys, .. } => keys.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of null rows.
    pub fn null_count(&self) -> usize {
        match self {
            Text::Plain(s) => s.null_count(),
            Text::Dict { nulls, .. } | Text::Enum { nulls, .. } => {
                nulls.map_or(0, NullBuffer::null_count)
            }
        }
    }

    /// Whether row `i` is null.
    #[inline]
    pub fn is_null(&self, i: usize) -> bool {
        match self {
            Text::Plain(s) => s.is_null(i),
            Text::Dict { nulls, .. } | Text::Enum { nulls, .. } => {
                nulls.is_some_and(|n| n.is_null(i))
            }
        }
    }

    /// Whether row `i` holds a value.
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        !self.is_null(i)
    }

    /// The text of row `i`, whatever its validity (like [`StringArray::value`]).
    #[inline]
    pub fn value(&self, i: usize) -> &'a str {
        match self {
            Text::Plain(s) => s.value(i),
            Text::Dict { keys, values, .. } => values.value(keys[i] as usize),
            Text::Enum { keys, values, .. } => values.value(keys[i] as usize),
        }
    }

    /// The text of row `i`, or `None` when it is null.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.is_valid(i).then(|| self.value(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Int32Array};
    use std::sync::Arc;

    #[test]
    fn plain_and_dictionary_read_alike() {
        let plain = StringArray::from(vec![Some("b"), None, Some("a"), Some("b")]);
        let dict = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![Some(1), None, Some(0), Some(1)]),
            Arc::new(StringArray::from(vec!["a", "b", "unused"])),
        )
        .expect("dict");
        for t in [Text::of(&plain), Text::of(&dict)] {
            let t = t.expect("text");
            assert_eq!(t.len(), 4);
            assert_eq!(t.null_count(), 1);
            let got: Vec<Option<&str>> = (0..4).map(|i| t.get(i)).collect();
            assert_eq!(got, [Some("b"), None, Some("a"), Some("b")]);
        }
        assert!(Text::of(&Int32Array::from(vec![1])).is_none());
    }
}
