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
