//! Floats in model files written as decimal strings (Rust's shortest round-trip form) and
//! read back with Rust's correctly rounded parser, so a loaded model is bit-identical to the
//! saved one whatever JSON number parser reads it.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeSeq, Serializer};

fn parse(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|e| format!("{s:?} is not a number: {e}"))
}

/// One `f64` as a string.
pub(crate) mod one {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(D::Error::custom)
    }
}

/// A `Vec<f64>` as an array of strings.
pub(crate) mod many {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&format!("{x:?}"))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| parse(s).map_err(D::Error::custom))
            .collect()
    }
}
