//! The only runtime-specific surface of the driver.

use std::future::Future;
use std::time::{Duration, Instant};

/// What the driver needs from an async runtime: spawning background tasks, a timer and a clock.
///
/// An adapter crate (`pool-tokio`, ...) implements this once; everything else is shared. The
/// driver never blocks and never assumes a particular executor, so any executor that can run
/// `Send` futures can host the pool.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// Whether the runtime makes a task whose futures are always ready yield now and then by
    /// itself (tokio's cooperative budget does). When it does not (async-io based runtimes, most
    /// executors), the driver's connection task yields after a run of replies so that its writer
    /// sends the next requests while the server works; when it does, an extra yield only costs
    /// (on tokio's multi-thread scheduler it hands the task to the other worker).
    const YIELDS_BY_ITSELF: bool = false;

    /// The future returned by [`sleep_until`](Self::sleep_until). Its output is ignored, so a
    /// runtime's own timer type fits as it is (async-io's `Timer` yields an `Instant`).
    type Sleep: Future + Send + 'static;

    /// The runtime the caller is running on, if it can be found from the calling context
    /// (`None` outside of it, for instance tokio outside a tokio runtime).
    fn current() -> Option<Self>;

    /// Runs `future` to completion in the background.
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// The current time. Deadlines are always decided by comparing this clock with the pool's
    /// timers, never by a timer future alone.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// `from + span`, saturating: where the sum does not fit in an `Instant` (a caller's
/// `Duration::MAX`), a point a century ahead, which no pool outlives.
pub(crate) fn instant_after(from: Instant, span: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    from.checked_add(span)
        .or_else(|| from.checked_add(CENTURY.min(span)))
        // An `Instant` a century past now exists on every supported platform.
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_after_saturates() {
        let now = Instant::now();
        assert_eq!(
            instant_after(now, Duration::from_secs(2)),
            now + Duration::from_secs(2)
        );
        let far = instant_after(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(99 * 365 * 24 * 3600));
    }
}
