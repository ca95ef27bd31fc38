//! Whole numbers in request bodies, whether a client writes them `30` or `30.0`: JSON has one
//! number type, and JSON Schema counts `30.0` as an integer, so a client generated from the
//! document may send either. Anything with a fraction, or out of range, is refused.

use serde::{Deserialize, Deserializer, de::Error};

fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    // `u64::MAX as f64` is 2^64 itself, one more than a u64 holds: a cast would
                    // saturate it (and anything that rounds to it) into range.
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number of 0 or more"))),
    }
}

/// An optional `u64`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    whole(d)
}

/// An optional `u32`.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d)?
        .map(|n| {
            u32::try_from(n).map_err(|_| D::Error::custom(format!("{n} is over {}", u32::MAX)))
        })
        .transpose()
}

/// A `u64`.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    whole(d)?.ok_or_else(|| D::Error::custom("a whole number is required"))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::opt_u32")]
        n: Option<u32>,
    }

    #[derive(serde::Deserialize)]
    struct U {
        #[serde(default, deserialize_with = "super::opt_u64")]
        n: Option<u64>,
    }

    #[test]
    fn nothing_past_u64_is_rounded_into_range() {
        let n = |j: &str| serde_json::from_str::<U>(j).map(|t| t.n);
        assert_eq!(n(r#"{"n": 18446744073709551615}"#).unwrap(), Some(u64::MAX));
        let largest_float_below = 18_446_744_073_709_549_568u64; // 2^64 - 2048
        assert_eq!(
            n(r#"{"n": 18446744073709549568.0}"#).unwrap(),
            Some(largest_float_below)
        );
        // Found by the json_bodies fuzz target: both were read as u64::MAX.
        for bad in [
            r#"{"n": 18446744073709551616}"#,
            r#"{"n": 1.8446744073709552e19}"#,
        ] {
            assert!(n(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn whole_numbers_in_either_spelling() {
        let n = |j: &str| serde_json::from_str::<T>(j).map(|t| t.n);
        assert_eq!(n(r#"{"n": 3}"#).unwrap(), Some(3));
        assert_eq!(n(r#"{"n": 3.0}"#).unwrap(), Some(3));
        assert_eq!(n(r#"{}"#).unwrap(), None);
        assert_eq!(n(r#"{"n": null}"#).unwrap(), None);
        for bad in [
            r#"{"n": 3.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": 4294967296}"#,
            r#"{"n": "3"}"#,
        ] {
            assert!(n(bad).is_err(), "{bad}");
        }
    }
}
