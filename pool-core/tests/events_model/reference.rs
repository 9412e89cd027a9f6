//! The reference model: what each subscription must yield, written the plain way. Every
//! subscription keeps its whole history (each event that reached it, kept or dropped, and each
//! loss and return of its publisher) in one `Vec`, and a pop reads the front of it; wanted
//! topics are a scan over every subscription; nothing is shared or summarised ahead of time.
//! `Model::step` says, for each transition, what `Subscriptions` must return, which servers
//! `poll_change` must report, which subscriptions `poll_woken` must wake, and the state and
//! `EventStats` afterwards.
//!
//! The rules, as the model states them:
//! * a topic is wanted from a server exactly while a subscription to it is live (neither
//!   unsubscribed nor ended); `poll_change` reports a server once for every drain in which its
//!   wanted set differed, after some step, from what it was before that step;
//! * a publisher's connection state (connected, ever connected, failures in a row) lives only
//!   while something is wanted from it: when nothing is, it is forgotten;
//! * an event reaches every live subscription of its server whose topic is exactly the event's
//!   topic, and numbers itself in each (`seq`, 1 for the first); a subscription keeps at most
//!   its capacity of events: a new one past it drops the oldest kept one;
//! * a pop reports, from the front of the history up to the first kept event (the gap): the
//!   count of dropped events in it (`Lagged(n)`), then `Disconnected` if the publisher was lost
//!   in it, then `Reconnected` if it came back after the last loss in it (or, with no loss in
//!   it, at all); each part once; once `Disconnected` was popped, only a return is news
//!   (losses and returns after it cancel in pairs, until a `Reconnected`). Then the event. With nothing left: `Ended` once the
//!   subscription ended, `Empty` before; `Unknown` once unsubscribed;
//! * `handle_lost` marks a loss only when the publisher was connected, and returns the
//!   reconnect delay, `reconnect_min` doubled once per failure in a row, capped;
//!   `handle_connected` marks a return only when the publisher had been connected before and
//!   is not now, and only for the subscriptions that were marked lost: one made during an
//!   outage had no gap, so its first connection is no item, like any first connection;
//! * a subscription is woken when it gets an event, a loss or return, or its end, at most once
//!   until `poll_woken` reports it, and never after it is unsubscribed.
//!
//! Invariants:
//! * the model never looks at `Subscriptions`: everything compared comes from `Model::step`;
//! * `preconditions` rejects exactly the transitions that name a subscription never made, so
//!   shrinking cannot produce a step a driver could not take.

use std::collections::{BTreeMap, BTreeSet};

use pool_core::events::{EventStats, SubscribeError};
use pool_core::wire::{EventHeader, MalformedEvent};
use pool_core::Duration;
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

use crate::config;
use crate::strategies;
use crate::transition::{payloads, Transition, EVENT_TOPICS, SERVERS, SUB_TOPICS};

/// One thing that happened to a subscription, in order.
// Test data, a few dozen at a time: plain beats boxed here.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Happened {
    Event { item: EventItem, kept: bool },
    Lost,
    Back,
}

/// An event as the consumer must see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EventItem {
    pub(crate) seq: u64,
    pub(crate) header: EventHeader,
    pub(crate) payload: Vec<u8>,
    pub(crate) preserialized: Vec<u8>,
}

/// What one pop gave.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Popped {
    Event(EventItem),
    Lagged(u64),
    Disconnected,
    Reconnected,
    Empty,
    Ended,
    Unknown,
}

#[derive(Clone, Debug)]
pub(crate) struct MSub {
    pub(crate) server: u8,
    pub(crate) topic: &'static str,
    pub(crate) capacity: usize,
    /// Events that reached it.
    pub(crate) seq: u64,
    pub(crate) ended: bool,
    pub(crate) unsubscribed: bool,
    /// Its publisher was lost and has not come back since.
    pub(crate) lost: bool,
    /// Its consumer popped `Disconnected` and no `Reconnected` since.
    pub(crate) told_lost: bool,
    /// Everything not yet popped, oldest first.
    pub(crate) history: Vec<Happened>,
}

impl MSub {
    pub(crate) fn live(&self) -> bool {
        !self.ended && !self.unsubscribed
    }

    pub(crate) fn kept(&self) -> usize {
        self.history
            .iter()
            .filter(|h| matches!(h, Happened::Event { kept: true, .. }))
            .count()
    }

    fn push_event(&mut self, mut item: EventItem) -> bool {
        self.seq += 1;
        item.seq = self.seq;
        let mut dropped = false;
        if self.kept() == self.capacity {
            let oldest = self
                .history
                .iter_mut()
                .find(|h| matches!(h, Happened::Event { kept: true, .. }))
                .expect("a full queue has a kept event");
            if let Happened::Event { kept, .. } = oldest {
                *kept = false;
            }
            dropped = true;
        }
        self.history.push(Happened::Event { item, kept: true });
        dropped
    }

    fn pop(&mut self) -> Popped {
        if self.unsubscribed {
            return Popped::Unknown;
        }
        let first_kept = self
            .history
            .iter()
            .position(|h| matches!(h, Happened::Event { kept: true, .. }))
            .unwrap_or(self.history.len());
        let gap = &self.history[..first_kept];
        let lagged = gap
            .iter()
            .filter(|h| matches!(h, Happened::Event { kept: false, .. }))
            .count() as u64;
        let last_loss = gap.iter().rposition(|h| matches!(h, Happened::Lost));
        let back = gap
            .iter()
            .enumerate()
            .any(|(i, h)| matches!(h, Happened::Back) && last_loss.is_none_or(|l| i > l));
        let back_last = gap
            .iter()
            .rev()
            .find(|h| matches!(h, Happened::Lost | Happened::Back))
            .is_some_and(|h| matches!(h, Happened::Back));
        let told_lost = self.told_lost;
        let gap_marks = gap
            .iter()
            .filter(|h| matches!(h, Happened::Lost | Happened::Back))
            .count();
        let mut i = 0;
        let mut keep = |pred: &dyn Fn(usize, &Happened) -> bool| {
            self.history.retain(|h| {
                let at = i;
                i += 1;
                at >= first_kept || !pred(at, h)
            });
        };
        if lagged > 0 {
            keep(&|_, h| matches!(h, Happened::Event { kept: false, .. }));
            return Popped::Lagged(lagged);
        }
        if told_lost {
            // Told of a loss, the consumer hears only of a return: the returns and losses in
            // the gap cancel in pairs, and what is left is a return or nothing.
            keep(&|_, h| matches!(h, Happened::Lost | Happened::Back));
            if back_last {
                self.told_lost = false;
                return Popped::Reconnected;
            }
            if gap_marks > 0 {
                // They cancelled: the gap is shorter now, look again.
                return self.pop();
            }
        } else if let Some(l) = last_loss {
            // The loss is reported; returns before the last loss in the gap are behind it.
            keep(&|at, h| matches!(h, Happened::Lost) || (at < l && matches!(h, Happened::Back)));
            self.told_lost = true;
            return Popped::Disconnected;
        } else if back {
            keep(&|_, h| matches!(h, Happened::Back));
            return Popped::Reconnected;
        }
        if first_kept < self.history.len() {
            let Happened::Event { item, .. } = self.history.remove(first_kept) else {
                unreachable!()
            };
            return Popped::Event(item);
        }
        if self.ended {
            Popped::Ended
        } else {
            Popped::Empty
        }
    }
}

/// A publisher's connection state, kept while something is wanted from it.
#[derive(Clone, Debug, Default)]
pub(crate) struct MPub {
    pub(crate) connected: bool,
    pub(crate) ever_connected: bool,
    pub(crate) failures: u32,
}

/// What a command or input returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Expect {
    #[default]
    Nothing,
    /// The model index of the new subscription.
    Subscribe(Result<usize, SubscribeError>),
    Unsubscribe(bool),
    /// One result per `handle_event`.
    Events(Vec<Result<usize, Refusal>>),
    Lost(Duration),
    Pops(Vec<Popped>),
}

/// `Refused`, comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Malformed(MalformedEvent),
    Unmatched,
}

/// Everything one step produced (predicted by the model, observed on `Subscriptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StepOut {
    pub(crate) expect: Expect,
    /// What `poll_change` gave, sorted (empty while the driver holds).
    pub(crate) changed: Vec<u8>,
    /// What `poll_woken` gave, as model indices, sorted (empty while the driver holds).
    pub(crate) woken: Vec<usize>,
}

#[derive(Clone, Default)]
pub(crate) struct Model {
    pub(crate) subs: Vec<MSub>,
    pub(crate) pubs: BTreeMap<u8, MPub>,
    pub(crate) closed: bool,
    pub(crate) stats: EventStats,
    /// Events handed to `handle_event` so far (numbers their payloads).
    pub(crate) sent: u64,
    /// The driver does not drain `poll_change` and `poll_woken` after each step.
    pub(crate) hold: bool,
    /// Servers `poll_change` owes.
    pub(crate) changed: BTreeSet<u8>,
    /// Subscriptions `poll_woken` owes.
    pub(crate) woken: BTreeSet<usize>,
    pub(crate) out: StepOut,
}

/// Every case starts empty: proptest prints the initial state of a failing case, and the
/// transitions after it tell the rest.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").finish_non_exhaustive()
    }
}

impl Model {
    /// The topics wanted from `server`: those of its live subscriptions.
    pub(crate) fn wanted(&self, server: u8) -> BTreeSet<&'static str> {
        self.subs
            .iter()
            .filter(|s| s.live() && s.server == server)
            .map(|s| s.topic)
            .collect()
    }

    fn all_wanted(&self) -> Vec<BTreeSet<&'static str>> {
        (0..SERVERS).map(|s| self.wanted(s)).collect()
    }

    fn wake(&mut self, k: usize) {
        self.woken.insert(k);
    }

    /// Live subscriptions of `server`.
    fn of_server(&self, server: u8) -> Vec<usize> {
        (0..self.subs.len())
            .filter(|&k| self.subs[k].live() && self.subs[k].server == server)
            .collect()
    }

    fn subscribe(&mut self, server: u8, topic: &'static str, queue: usize) -> Expect {
        let c = config();
        let existing = self.subs.iter().filter(|s| !s.unsubscribed).count();
        let refused = if self.closed {
            Some(SubscribeError::Closed)
        } else if existing >= c.max_subscriptions {
            Some(SubscribeError::TooMany {
                limit: c.max_subscriptions,
            })
        } else if topic.is_empty() {
            Some(SubscribeError::EmptyTopic)
        } else if topic.len() > c.max_topic_len {
            Some(SubscribeError::TopicTooLong {
                limit: c.max_topic_len,
            })
        } else if queue == 0 || queue > c.max_queue_len {
            Some(SubscribeError::QueueLen {
                limit: c.max_queue_len,
            })
        } else {
            None
        };
        if let Some(e) = refused {
            return Expect::Subscribe(Err(e));
        }
        self.pubs.entry(server).or_default();
        self.subs.push(MSub {
            server,
            topic,
            capacity: queue,
            seq: 0,
            ended: false,
            unsubscribed: false,
            lost: false,
            told_lost: false,
            history: Vec::new(),
        });
        Expect::Subscribe(Ok(self.subs.len() - 1))
    }

    fn event(&mut self, server: u8, topic: &str, item: EventItem) -> Result<usize, Refusal> {
        self.stats.received += 1;
        let targets: Vec<usize> = self
            .of_server(server)
            .into_iter()
            .filter(|&k| self.subs[k].topic == topic)
            .collect();
        if targets.is_empty() {
            self.stats.unmatched += 1;
            return Err(Refusal::Unmatched);
        }
        for &k in &targets {
            if self.subs[k].push_event(item.clone()) {
                self.stats.lagged += 1;
            }
            self.stats.delivered += 1;
            self.wake(k);
        }
        Ok(targets.len())
    }

    fn mark_lost(&mut self, server: u8) {
        for k in self.of_server(server) {
            self.subs[k].lost = true;
            self.subs[k].history.push(Happened::Lost);
            self.wake(k);
        }
    }

    /// Only a subscription that saw the loss sees the return.
    fn mark_back(&mut self, server: u8) {
        for k in self.of_server(server) {
            if std::mem::take(&mut self.subs[k].lost) {
                self.subs[k].history.push(Happened::Back);
                self.wake(k);
            }
        }
    }

    fn end(&mut self, server: u8) {
        for k in self.of_server(server) {
            self.subs[k].ended = true;
            self.wake(k);
        }
    }

    fn next_payloads(&mut self) -> (Vec<u8>, Vec<u8>) {
        let p = payloads(self.sent);
        self.sent += 1;
        p
    }

    fn run(&mut self, t: &Transition) -> Expect {
        match *t {
            Transition::Subscribe {
                server,
                topic,
                queue,
            } => self.subscribe(server, SUB_TOPICS[topic], queue),
            Transition::Unsubscribe(k) => {
                let sub = &mut self.subs[k];
                if sub.unsubscribed {
                    return Expect::Unsubscribe(false);
                }
                sub.unsubscribed = true;
                sub.history.clear();
                self.woken.remove(&k);
                Expect::Unsubscribe(true)
            }
            Transition::Events {
                server,
                topic,
                shape,
                count,
            } => {
                let topic = EVENT_TOPICS[topic];
                let results = (0..count)
                    .map(|_| {
                        let (payload, preserialized) = self.next_payloads();
                        let item = EventItem {
                            seq: 0,
                            header: shape.decoded(),
                            payload,
                            preserialized,
                        };
                        self.event(server, topic, item)
                    })
                    .collect();
                Expect::Events(results)
            }
            Transition::Malformed { bad, .. } => {
                self.next_payloads();
                self.stats.malformed += 1;
                Expect::Events(vec![Err(Refusal::Malformed(bad.refusal()))])
            }
            Transition::Connected(server) => {
                if let Some(p) = self.pubs.get_mut(&server) {
                    let returned = p.ever_connected && !p.connected;
                    p.connected = true;
                    p.ever_connected = true;
                    p.failures = 0;
                    if returned {
                        self.mark_back(server);
                    }
                }
                Expect::Nothing
            }
            Transition::Lost(server) => {
                let c = config();
                let Some(p) = self.pubs.get_mut(&server) else {
                    return Expect::Lost(c.reconnect_min);
                };
                let factor = 1u64 << p.failures.min(32);
                let delay = Duration::from_micros(
                    (c.reconnect_min.as_micros() * factor).min(c.reconnect_max.as_micros()),
                );
                p.failures += 1;
                let was_connected = std::mem::replace(&mut p.connected, false);
                if was_connected {
                    self.stats.lost += 1;
                    self.mark_lost(server);
                }
                Expect::Lost(delay)
            }
            Transition::RemoveServer(server) => {
                self.end(server);
                Expect::Nothing
            }
            Transition::Close => {
                self.closed = true;
                for server in 0..SERVERS {
                    self.end(server);
                }
                Expect::Nothing
            }
            Transition::Pop { sub, count } => {
                let mut pops = Vec::new();
                for _ in 0..count {
                    let p = self.subs[sub].pop();
                    let last = matches!(p, Popped::Empty | Popped::Ended | Popped::Unknown);
                    pops.push(p);
                    if last {
                        break;
                    }
                }
                Expect::Pops(pops)
            }
            Transition::Hold => {
                self.hold = true;
                Expect::Nothing
            }
            Transition::Drain => {
                self.hold = false;
                Expect::Nothing
            }
        }
    }

    pub(crate) fn step(&mut self, t: &Transition) {
        let before = self.all_wanted();
        let expect = self.run(t);
        let after = self.all_wanted();
        for server in 0..SERVERS {
            let s = usize::from(server);
            if before[s] != after[s] {
                self.changed.insert(server);
            }
            // Connection state is forgotten with the last wanted topic.
            if after[s].is_empty() {
                self.pubs.remove(&server);
            }
        }
        self.out = StepOut {
            expect,
            ..StepOut::default()
        };
        if !self.hold {
            self.out.changed = std::mem::take(&mut self.changed).into_iter().collect();
            self.out.woken = std::mem::take(&mut self.woken).into_iter().collect();
        }
    }
}

pub(crate) struct SubsModel;

impl ReferenceStateMachine for SubsModel {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(s: &Model) -> BoxedStrategy<Transition> {
        strategies::transitions(s)
    }

    fn preconditions(s: &Model, t: &Transition) -> bool {
        match *t {
            Transition::Unsubscribe(k) | Transition::Pop { sub: k, .. } => k < s.subs.len(),
            Transition::Subscribe { server, topic, .. } => {
                server < SERVERS && topic < SUB_TOPICS.len()
            }
            Transition::Events { server, topic, .. }
            | Transition::Malformed { server, topic, .. } => {
                server < SERVERS && topic < EVENT_TOPICS.len()
            }
            Transition::Connected(server)
            | Transition::Lost(server)
            | Transition::RemoveServer(server) => server < SERVERS,
            Transition::Close | Transition::Hold | Transition::Drain => true,
        }
    }

    fn apply(mut state: Model, t: &Transition) -> Model {
        state.step(t);
        state
    }
}
