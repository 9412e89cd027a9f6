//! Time as an input: the core never reads a clock.
//!
//! [`Instant`] counts microseconds since an epoch the adapter chooses (for example the moment the
//! pool was created). [`Duration`] is a span in microseconds. Both saturate instead of overflowing,
//! so no input can make the core panic.

use core::ops::{Add, Sub};

/// A point in time, in microseconds since an adapter-chosen epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

/// A span of time in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub u64);

impl Duration {
    /// Zero length.
    pub const ZERO: Duration = Duration(0);

    /// `n` microseconds.
    #[must_use]
    pub const fn from_micros(n: u64) -> Self {
        Duration(n)
    }

    /// `n` milliseconds (saturating).
    #[must_use]
    pub const fn from_millis(n: u64) -> Self {
        Duration(n.saturating_mul(1_000))
    }

    /// `n` seconds (saturating).
    #[must_use]
    pub const fn from_secs(n: u64) -> Self {
        Duration(n.saturating_mul(1_000_000))
    }

    /// The span in microseconds.
    #[must_use]
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Doubles the span `times` times, never above `cap`.
    #[must_use]
    pub fn doubled(self, times: u32, cap: Duration) -> Duration {
        let factor = 1u64.checked_shl(times.min(63)).unwrap_or(u64::MAX);
        Duration(self.0.saturating_mul(factor)).min(cap)
    }
}

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// Microseconds since the epoch.
    #[must_use]
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_sub(rhs.0))
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

#[cfg(feature = "std")]
impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

#[cfg(feature = "std")]
impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        std::time::Duration::from_micros(d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant(u64::MAX) + Duration(5), Instant(u64::MAX));
        assert_eq!(Instant(3) - Duration(5), Instant(0));
        assert_eq!(Instant(3).saturating_since(Instant(9)), Duration::ZERO);
        assert_eq!(Duration::from_secs(u64::MAX), Duration(u64::MAX));
    }

    #[test]
    fn doubling_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        assert_eq!(base.doubled(0, cap), base);
        assert_eq!(base.doubled(3, cap), Duration::from_millis(800));
        assert_eq!(base.doubled(10, cap), cap);
        assert_eq!(base.doubled(200, cap), cap);
    }
}
