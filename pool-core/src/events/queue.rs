//! One subscription's bounded queue: events in arrival order, and the gaps between them.
//!
//! A gap is what happened between two events that is not an event: events dropped because the
//! consumer was slow (a lag count), and the publisher lost or back. Each queued event carries
//! the gap before it; the gap after the newest event is the tail. A gap is a fixed-size summary,
//! so however long nobody reads and however often the publisher comes and goes, the queue holds
//! at most `capacity` events and `capacity + 1` gaps.
//!
//! Invariants:
//! * `entries.len() <= capacity`, and `capacity >= 1`;
//! * when the queue is full, a new event drops the oldest one and counts it in the gap that
//!   now comes first: nothing is lost without being counted;
//! * [`Queue::pop`] reports a gap's parts in the order lag, loss, return, then the event after
//!   it; a part is reported once;
//! * the consumer never hears of a loss twice without a return between: once it was told the
//!   publisher was lost, a return and a new loss before the next item cancel out.

use alloc::collections::VecDeque;

use super::item::{Event, Item, Marker};

/// What happened between two events, not yet reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Gap {
    /// Events dropped because the queue was full.
    lagged: u64,
    /// The publisher was lost.
    disconnected: bool,
    /// The publisher came back (after the loss reported or pending before it).
    reconnected: bool,
}

impl Gap {
    /// `older` followed by `self`, as one gap.
    fn after(self, older: Gap) -> Gap {
        let lagged = older.lagged.saturating_add(self.lagged);
        if !self.disconnected {
            return Gap {
                lagged,
                disconnected: older.disconnected,
                reconnected: older.reconnected || self.reconnected,
            };
        }
        // A loss hides the returns before it. A return still pending without its loss means
        // the consumer was told of that loss: the return and this loss cancel, and as far as
        // the consumer knows the publisher is still lost (it hears of the next return).
        let told_lost = older.reconnected && !older.disconnected;
        Gap {
            lagged,
            disconnected: !told_lost,
            reconnected: self.reconnected,
        }
    }

    /// Takes the first part not yet reported.
    fn take_first(&mut self) -> Option<Marker> {
        if self.lagged > 0 {
            let n = self.lagged;
            self.lagged = 0;
            Some(Marker::Lagged(n))
        } else if self.disconnected {
            self.disconnected = false;
            Some(Marker::Disconnected)
        } else if self.reconnected {
            self.reconnected = false;
            Some(Marker::Reconnected)
        } else {
            None
        }
    }
}

/// A bounded queue of events and the gaps between them.
#[derive(Debug)]
pub(super) struct Queue<F> {
    entries: VecDeque<(Gap, Event<F>)>,
    tail: Gap,
    capacity: usize,
}

impl<F> Queue<F> {
    /// An empty queue for at most `capacity` events (at least 1).
    pub(super) fn new(capacity: usize) -> Queue<F> {
        Queue {
            entries: VecDeque::new(),
            tail: Gap::default(),
            capacity: capacity.max(1),
        }
    }

    /// Queues `event`; returns whether an older event was dropped to make room.
    pub(super) fn push(&mut self, event: Event<F>) -> bool {
        let mut dropped = false;
        if self.entries.len() == self.capacity {
            if let Some((gap, _)) = self.entries.pop_front() {
                let lag = Gap {
                    lagged: 1,
                    ..Gap::default()
                };
                let gap = lag.after(gap);
                match self.entries.front_mut() {
                    Some((next, _)) => *next = next.after(gap),
                    None => self.tail = self.tail.after(gap),
                }
                dropped = true;
            }
        }
        let gap = core::mem::take(&mut self.tail);
        self.entries.push_back((gap, event));
        dropped
    }

    /// The publisher was lost.
    pub(super) fn push_disconnected(&mut self) {
        let lost = Gap {
            disconnected: true,
            ..Gap::default()
        };
        self.tail = lost.after(self.tail);
    }

    /// The publisher came back.
    pub(super) fn push_reconnected(&mut self) {
        let back = Gap {
            reconnected: true,
            ..Gap::default()
        };
        self.tail = back.after(self.tail);
    }

    /// The next item, if any.
    pub(super) fn pop(&mut self) -> Option<Item<F>> {
        let gap = match self.entries.front_mut() {
            Some((gap, _)) => gap,
            None => &mut self.tail,
        };
        if let Some(part) = gap.take_first() {
            return Some(part.into());
        }
        self.entries
            .pop_front()
            .map(|(_, event)| Item::Event(event))
    }

    /// Events queued.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}
