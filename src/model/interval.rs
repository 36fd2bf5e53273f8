use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A length of time with one-second resolution, written `90s`, `15m`, `4h`,
/// `35d` or combined (`1h30m`). Used for objectives (RTO, RPO), backup
/// intervals and retentions.
///
/// Invariant: parsing and [`Display`](fmt::Display) are inverses on the
/// canonical form (largest units first, no zero parts); `0s` is the zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval(u64);

/// Why a string is not an [`Interval`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a duration: write a number followed by d, h, m or s, e.g. `4h`, `15m`, `1h30m`"
)]
pub struct IntervalError(pub String);

impl Interval {
    /// An interval of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Interval(secs)
    }
    /// An interval of `m` minutes.
    pub const fn from_mins(m: u64) -> Self {
        Interval(m * 60)
    }
    /// An interval of `h` hours.
    pub const fn from_hours(h: u64) -> Self {
        Interval(h * 3600)
    }
    /// Whole seconds.
    pub const fn secs(self) -> u64 {
        self.0
    }
}

impl FromStr for Interval {
    type Err = IntervalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IntervalError(s.to_string());
        if s.is_empty() {
            return Err(err());
        }
        let mut total: u64 = 0;
        let mut num: Option<u64> = None;
        for c in s.chars() {
            if let Some(d) = c.to_digit(10) {
                let n = num.unwrap_or(0);
                num = Some(
                    n.checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(d)))
                        .ok_or_else(err)?,
                );
                continue;
            }
            let unit = match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return Err(err()),
            };
            let n = num.take().ok_or_else(err)?;
            total = n
                .checked_mul(unit)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(err)?;
        }
        if num.is_some() {
            return Err(err());
        }
        Ok(Interval(total))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, name) in [(86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')] {
            if rest >= unit {
                write!(f, "{}{}", rest / unit, name)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_seed_figures() {
        assert_eq!("4h".parse(), Ok(Interval::from_hours(4)));
        assert_eq!("15m".parse(), Ok(Interval::from_mins(15)));
        assert_eq!("35d".parse::<Interval>().unwrap().secs(), 35 * 86_400);
        assert_eq!("1h30m".parse(), Ok(Interval::from_mins(90)));
        assert_eq!(Interval::from_mins(90).to_string(), "1h30m");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "h", "4", "4x", "-4h", "4 h", "99999999999999999999d"] {
            assert!(bad.parse::<Interval>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(secs in 0u64..10_000_000_000) {
            let i = Interval::from_secs(secs);
            prop_assert_eq!(i.to_string().parse::<Interval>(), Ok(i));
        }
    }
}
