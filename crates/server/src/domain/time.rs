//! Timestamps: whole milliseconds since the Unix epoch, UTC. One representation for the catalog
//! (an integer column sorts and compares the same on SQLite and PostgreSQL), the audit hash input
//! and the wire (converted to RFC 3339 at the edge).

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }
    /// From milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }
    /// From a date-time (sub-millisecond precision is dropped).
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        Self((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }
    /// As a UTC date-time.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
    /// This time plus a duration (saturating).
    pub fn plus(self, d: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_add(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }
}

/// How long a credential or code lasts: 1 second to 10 years. Anything longer is refused rather
/// than clamped, so what a client asked for is what it gets (and a lifetime never overflows the
/// calendar: `u64::MAX` seconds used to be stored as a date in 1970 while the token worked).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Lifetime(std::time::Duration);

impl Lifetime {
    /// The longest lifetime accepted, in seconds (10 years of 365 days).
    pub const MAX_SECS: u64 = 10 * 365 * 24 * 3600;

    /// Parses a lifetime given in seconds; `field` names it in the error.
    pub fn from_secs(field: &'static str, secs: u64) -> Result<Self, super::ParseError> {
        if (1..=Self::MAX_SECS).contains(&secs) {
            Ok(Self(std::time::Duration::from_secs(secs)))
        } else {
            Err(super::ParseError::new(
                field,
                format!(
                    "{secs} seconds is not a lifetime: give 1 to {} seconds (10 years)",
                    Self::MAX_SECS
                ),
            ))
        }
    }

    /// The duration.
    pub fn duration(self) -> std::time::Duration {
        self.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self
            .to_datetime()
            .format(&time::format_description::well_known::Rfc3339)
        {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}ms", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_one_second_to_ten_years() {
        assert!(Lifetime::from_secs("expires_in_seconds", 0).is_err());
        assert!(Lifetime::from_secs("expires_in_seconds", 1).is_ok());
        assert!(Lifetime::from_secs("expires_in_seconds", Lifetime::MAX_SECS).is_ok());
        let err = Lifetime::from_secs("expires_in_seconds", u64::MAX).unwrap_err();
        assert_eq!(err.field, "expires_in_seconds");
        assert!(err.message.contains("10 years"), "{}", err.message);
        let longest = Lifetime::from_secs("x", Lifetime::MAX_SECS).unwrap();
        let end = Timestamp::now().plus(longest.duration());
        assert!(end.to_datetime().year() > 2030, "representable: {end}");
    }
}
