//! A heap of timed events, earliest first, for the servers' poll loops.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

struct Timer<E> {
    deadline: Instant,
    /// Insertion order: timers with the same deadline fire in the order they were added.
    seq: u64,
    event: E,
}

impl<E> PartialEq for Timer<E> {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl<E> Eq for Timer<E> {}
impl<E> PartialOrd for Timer<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Timer<E> {
    /// Reversed, so that `BinaryHeap` pops the earliest deadline first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// Events due at given instants.
pub(crate) struct Timers<E> {
    heap: BinaryHeap<Timer<E>>,
    seq: u64,
}

impl<E> Default for Timers<E> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<E> Timers<E> {
    /// Schedules `event` at `deadline`.
    pub(crate) fn add(&mut self, deadline: Instant, event: E) {
        self.seq += 1;
        self.heap.push(Timer {
            deadline,
            seq: self.seq,
            event,
        });
    }

    /// The time left until the next deadline (`None`: no timer).
    pub(crate) fn time_left(&self) -> Option<Duration> {
        self.heap
            .peek()
            .map(|t| t.deadline.saturating_duration_since(Instant::now()))
    }

    /// The `zmq::poll` timeout until the next deadline, in whole milliseconds rounded up
    /// (-1: no timer, wait forever).
    pub(crate) fn poll_timeout_ms(&self) -> i64 {
        match self.time_left() {
            None => -1,
            Some(left) => i64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i64::MAX),
        }
    }

    /// The earliest event due at `now`, with its deadline.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, E)> {
        if self.heap.peek()?.deadline > now {
            return None;
        }
        self.heap.pop().map(|t| (t.deadline, t.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_insertion_order() {
        let mut timers = Timers::default();
        let now = Instant::now();
        assert_eq!((timers.poll_timeout_ms(), timers.time_left()), (-1, None));
        timers.add(now + Duration::from_millis(20), "late");
        timers.add(now, "first");
        timers.add(now, "second");
        assert!(timers.poll_timeout_ms() <= 1);
        let due: Vec<&str> = std::iter::from_fn(|| timers.pop_due(now).map(|(_, e)| e)).collect();
        assert_eq!(due, ["first", "second"]);
        assert!(timers.pop_due(now).is_none());
        assert!((1..=20).contains(&timers.poll_timeout_ms()));
        let later = now + Duration::from_millis(20);
        assert_eq!(timers.pop_due(later), Some((later, "late")));
    }
}
