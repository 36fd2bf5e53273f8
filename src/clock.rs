//! The one way statectl reads the time. Everything that depends on "now"
//! (audit records, generation times, locks, maintenance windows, retention)
//! takes a [`Clock`], so tests and drills can fix or move time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::model::UtcTime;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> UtcTime;

    /// Reports time that passed where this clock cannot see it: the
    /// simulator's virtual time during an apply. A fixed clock (a drill, or
    /// `STATECTL_NOW`) moves forward by it, so what is recorded afterwards
    /// (a generation's end, audit records) is as late as the simulated
    /// cloud says; the system clock has seen real time pass and ignores it.
    fn elapse(&self, _millis: i64) {}
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UtcTime {
        UtcTime::from_timestamp(jiff::Timestamp::now())
    }
}

/// A clock that stands still until moved; for tests, drills and
/// `STATECTL_NOW`.
///
/// Invariant: it only moves when [`FixedClock::set`] or
/// [`FixedClock::advance`] is called.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock showing `t`.
    pub fn new(t: UtcTime) -> Self {
        FixedClock(AtomicI64::new(t.0))
    }
    /// Sets the time.
    pub fn set(&self, t: UtcTime) {
        self.0.store(t.0, Ordering::SeqCst);
    }
    /// Moves the time forward by `millis`.
    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UtcTime {
        UtcTime(self.0.load(Ordering::SeqCst))
    }
    fn elapse(&self, millis: i64) {
        self.advance(millis);
    }
}

/// Why `STATECTL_NOW` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NowError {
    /// Not a time at all.
    #[error("STATECTL_NOW=`{0}` is not an RFC 3339 time: write e.g. 2026-11-29T03:00:00-05:00")]
    Syntax(String),
    /// A time, but outside what statectl records.
    #[error(
        "STATECTL_NOW=`{0}` is outside the times statectl records: give one from 1970-01-01T00:00:00Z to 9999-12-30T00:00:00Z"
    )]
    Range(String),
}

/// The earliest and latest times an override may name: statectl records
/// times after the Unix epoch, and the time library ends at 9999-12-30.
const RANGE: (&str, &str) = ("1970-01-01T00:00:00Z", "9999-12-30T00:00:00Z");

/// Reads an override: RFC 3339 within [`RANGE`]. A well-formed time the
/// time library cannot hold (9999-12-31) is out of range, not a syntax
/// error.
fn parse_override(s: &str) -> Result<UtcTime, NowError> {
    let bounds = |b: &str| b.parse::<UtcTime>().map_err(|_| NowError::Syntax(b.into()));
    let (lo, hi) = (bounds(RANGE.0)?, bounds(RANGE.1)?);
    match s.parse::<UtcTime>() {
        Ok(t) if t < lo || t > hi => Err(NowError::Range(s.to_string())),
        Ok(t) => Ok(t),
        Err(_) if in_year_9999(s.trim()) => Err(NowError::Range(s.to_string())),
        Err(_) => Err(NowError::Syntax(s.to_string())),
    }
}

/// `9999-MM-DDT...`: a time of the last year, which the time library ends
/// before (9999-12-31 does not parse); that is a range error, not syntax.
fn in_year_9999(s: &str) -> bool {
    let b = s.as_bytes();
    s.starts_with("9999-") && b.len() >= 20 && b.get(7) == Some(&b'-')
}

/// The clock the CLI uses: fixed at the override (`STATECTL_NOW`, from
/// [`crate::settings::Settings::now`]) when there is one, else the system
/// clock.
pub fn from_override(now: Option<&str>) -> Result<Arc<dyn Clock>, NowError> {
    match now {
        Some(s) if !s.trim().is_empty() => {
            let t = parse_override(s)?;
            Ok(Arc::new(FixedClock::new(t)))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_is_a_time_from_1970_to_9999_12_30() {
        assert!(from_override(Some("2026-11-29T03:00:00-05:00")).is_ok());
        assert!(from_override(Some("9999-12-30T00:00:00Z")).is_ok());
        for out in [
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            let e = from_override(Some(out)).err();
            assert_eq!(e, Some(NowError::Range(out.into())), "{out}");
        }
        let e = from_override(Some("next tuesday")).err();
        assert_eq!(e, Some(NowError::Syntax("next tuesday".into())));
        assert!(e.is_some_and(|e| e.to_string().contains("not an RFC 3339 time")));
    }
}
