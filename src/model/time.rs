use std::fmt;

use serde::{Deserialize, Serialize};

/// A UTC instant with millisecond resolution, stored as milliseconds since
/// the Unix epoch. Audit records, generations and locks carry these.
///
/// Invariant: always UTC; rendered as RFC 3339 with a `Z` suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UtcTime(pub i64);

impl UtcTime {
    /// From a jiff timestamp (truncated to milliseconds).
    pub fn from_timestamp(t: jiff::Timestamp) -> Self {
        UtcTime(t.as_millisecond())
    }

    /// As a jiff timestamp (the epoch if out of range, which only a corrupt
    /// record could hold; decoding rejects those first).
    pub fn timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn millis_since(self, earlier: UtcTime) -> u64 {
        u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.timestamp())
    }
}

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 time: write e.g. 2026-11-29T03:00:00-05:00")]
pub struct TimeError(pub String);

impl std::str::FromStr for UtcTime {
    type Err = TimeError;

    /// Reads an RFC 3339 time with any offset.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<jiff::Timestamp>()
            .map(UtcTime::from_timestamp)
            .map_err(|_| TimeError(s.to_string()))
    }
}
