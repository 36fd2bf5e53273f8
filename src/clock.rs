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
#[error("STATECTL_NOW=`{0}` is not an RFC 3339 time: write e.g. 2026-11-29T03:00:00-05:00")]
pub struct NowError(pub String);

/// The clock the CLI uses: fixed at the override (`STATECTL_NOW`, from
/// [`crate::settings::Settings::now`]) when there is one, else the system
/// clock.
pub fn from_override(now: Option<&str>) -> Result<Arc<dyn Clock>, NowError> {
    match now {
        Some(s) if !s.trim().is_empty() => {
            let t: UtcTime = s.parse().map_err(|_| NowError(s.to_string()))?;
            Ok(Arc::new(FixedClock::new(t)))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}
