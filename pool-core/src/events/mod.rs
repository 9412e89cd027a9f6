//! Event subscriptions, sans-IO: which topics are wanted from which publisher, the events each
//! subscription holds for its consumer, and what a publisher's loss and return mean for them.
//!
//! A hololinked server publishes all its Things' events on one PUB socket (docs/protocol.md
//! §17); a driver keeps one SUB socket per server that has subscriptions. [`Subscriptions`] is
//! the bookkeeping between them, generic over the driver's server key `S` and frame type `F`
//! (`bytes::Bytes` in the async driver: payloads are shared, never copied).
//!
//! Method families, in the style of [`crate::pool::Pool`]:
//! * getters: [`Subscriptions::wanted`], [`Subscriptions::stats`], [`Subscriptions::len`];
//! * commands: [`Subscriptions::subscribe`], [`Subscriptions::unsubscribe`],
//!   [`Subscriptions::remove_server`], [`Subscriptions::close`];
//! * inputs from the transport: [`Subscriptions::handle_event`],
//!   [`Subscriptions::handle_connected`], [`Subscriptions::handle_lost`];
//! * outputs, polled after every input: [`Subscriptions::poll_change`] (a server whose wanted
//!   topics changed: open, renew or close its SUB socket), then [`Subscriptions::poll_woken`]
//!   (a subscription with something new for its consumer), and, from the consumer,
//!   [`Subscriptions::pop`].
//!
//! It never reads a clock: the reconnect delay [`Subscriptions::handle_lost`] returns is a
//! duration for the driver to wait.
//!
//! Invariants:
//! * a topic is wanted from a server exactly while a live subscription names it; subscribers
//!   of the same topic share it (one SUB subscription, one decode per event);
//! * every queue is bounded (its capacity, at most [`Config::max_queue_len`]); a full queue
//!   drops its oldest event and counts it, never the newest and never silently;
//! * the number of subscriptions is at most [`Config::max_subscriptions`], so the pending
//!   changes (one per server) and wake-ups (one per subscription) are bounded too;
//! * an event is matched by its exact topic (frame 0), never by prefix, whatever prefix
//!   matching the publisher did;
//! * a subscription gets [`Item::Reconnected`] only after an [`Item::Disconnected`] of its own:
//!   one made while its publisher was away had no gap, and its first connection is no item;
//! * a subscription whose server is removed, or whose pool closes, ends: its consumer reads
//!   what is queued, then the end. Dropping it (`unsubscribe`) is the only way its record goes.

mod item;
mod queue;
#[cfg(test)]
mod tests;

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use item::{Event, Item};
use queue::Queue;

use crate::time::Duration;
use crate::wire::{classify_event, MalformedEvent};

/// Limits and timings of a [`Subscriptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Most subscriptions at once (default 4096).
    pub max_subscriptions: usize,
    /// Longest queue a subscription may ask for (default 65 536 events).
    pub max_queue_len: usize,
    /// Longest topic, in bytes (default 1024).
    pub max_topic_len: usize,
    /// First reconnect delay after a publisher was lost (default 50 ms).
    pub reconnect_min: Duration,
    /// Longest reconnect delay; the delay doubles from `reconnect_min` up to it (default 2 s).
    pub reconnect_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_subscriptions: 4096,
            max_queue_len: 65_536,
            max_topic_len: 1024,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
        }
    }
}

/// A subscription's handle, never reused within one [`Subscriptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(u64);

impl SubscriptionId {
    /// The number behind the handle (for logs).
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Why a subscription could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeError {
    /// [`Config::max_subscriptions`] subscriptions exist.
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// The topic is empty (that would subscribe to everything the publisher sends).
    EmptyTopic,
    /// The topic is longer than [`Config::max_topic_len`].
    TopicTooLong {
        /// The limit.
        limit: usize,
    },
    /// The queue asked for is 0 or longer than [`Config::max_queue_len`].
    QueueLen {
        /// The limit.
        limit: usize,
    },
    /// The subscriptions are closed.
    Closed,
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscribeError::TooMany { limit } => {
                write!(f, "the pool has its maximum of {limit} subscriptions")
            }
            SubscribeError::EmptyTopic => f.write_str("the event id is empty"),
            SubscribeError::TopicTooLong { limit } => {
                write!(f, "the event id is longer than {limit} bytes")
            }
            SubscribeError::QueueLen { limit } => {
                write!(f, "a subscription's queue holds 1 to {limit} events")
            }
            SubscribeError::Closed => f.write_str("the pool is closed"),
        }
    }
}

impl core::error::Error for SubscribeError {}

/// Why an event reached no subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// It was not a well-formed event.
    Malformed(MalformedEvent),
    /// No subscription of this server wants its topic.
    Unmatched,
}

/// What a consumer gets from [`Subscriptions::pop`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop<F> {
    /// The next item.
    Item(Item<F>),
    /// Nothing yet; the subscription is live.
    Empty,
    /// Nothing more will come: the server was removed or the pool closed.
    Ended,
    /// No such subscription (it was unsubscribed).
    Unknown,
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Well-formed events received from publishers.
    pub received: u64,
    /// Events queued for a subscription (one event queued for 3 subscriptions counts 3).
    pub delivered: u64,
    /// Events dropped from a full queue (counted as lag to their subscription).
    pub lagged: u64,
    /// Messages that were not well-formed events, dropped.
    pub malformed: u64,
    /// Well-formed events that no subscription wanted (a SUB subscription racing its end, or a
    /// publisher that ignores subscriptions), dropped.
    pub unmatched: u64,
    /// Publisher connections lost.
    pub lost: u64,
}

#[derive(Debug)]
struct Subscriber<S, F> {
    server: S,
    topic: String,
    queue: Queue<F>,
    /// Events that reached this subscription so far.
    seq: u64,
    ended: bool,
    /// Given [`Item::Disconnected`] and not yet [`Item::Reconnected`]: only such a subscription
    /// is told of the return (one made during an outage had no gap).
    lost: bool,
    /// In `woken`, not yet polled.
    wake_pending: bool,
}

#[derive(Debug, Default)]
struct Publisher {
    /// Each wanted topic and its subscribers, in subscription order.
    topics: BTreeMap<String, Vec<SubscriptionId>>,
    connected: bool,
    /// Losses and failed connects in a row.
    failures: u32,
}

/// The event subscriptions of one pool. See the [module documentation](self).
///
/// ```
/// use pool_core::events::{Config, Item, Pop, Subscriptions};
///
/// let mut subs: Subscriptions<u8, Vec<u8>> = Subscriptions::new(Config::default());
/// let id = subs.subscribe(7, "ev/tick", 16)?;
/// assert_eq!(subs.poll_change(), Some(7)); // open server 7's SUB socket
/// assert_eq!(subs.wanted(7).collect::<Vec<_>>(), ["ev/tick"]);
/// subs.handle_connected(7);
/// let header = br#"{"messageType":"EVENT","eventID":"ev/tick","payloadContentType":"application/json"}"#;
/// let frames = [b"ev/tick".to_vec(), vec![], header.to_vec(), br#"{"n":1}"#.to_vec(), vec![]];
/// assert_eq!(subs.handle_event(7, &frames), Ok(1));
/// assert_eq!(subs.poll_woken(), Some(id)); // wake its consumer
/// let Pop::Item(Item::Event(event)) = subs.pop(id) else { panic!() };
/// assert_eq!((event.seq, &event.payload[..]), (1, &br#"{"n":1}"#[..]));
/// subs.unsubscribe(id);
/// assert_eq!(subs.poll_change(), Some(7)); // nothing wanted: close it
/// assert_eq!(subs.wanted(7).count(), 0);
/// # Ok::<(), pool_core::events::SubscribeError>(())
/// ```
#[derive(Debug)]
pub struct Subscriptions<S, F> {
    config: Config,
    subscribers: BTreeMap<SubscriptionId, Subscriber<S, F>>,
    publishers: BTreeMap<S, Publisher>,
    /// Servers whose wanted topics changed since the driver last looked.
    changed: BTreeSet<S>,
    /// Subscriptions with news for their consumer, each at most once.
    woken: VecDeque<SubscriptionId>,
    next_id: u64,
    closed: bool,
    stats: EventStats,
}

impl<S: Ord + Copy, F: AsRef<[u8]> + Clone> Subscriptions<S, F> {
    /// No subscriptions yet.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Subscriptions {
            config,
            subscribers: BTreeMap::new(),
            publishers: BTreeMap::new(),
            changed: BTreeSet::new(),
            woken: VecDeque::new(),
            next_id: 0,
            closed: false,
            stats: EventStats::default(),
        }
    }

    // ----- getters -----

    /// The topics wanted from `server`, in order; none once nothing is wanted (close its SUB).
    pub fn wanted(&self, server: S) -> impl Iterator<Item = &str> {
        self.publishers
            .get(&server)
            .into_iter()
            .flat_map(|p| p.topics.keys().map(String::as_str))
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> EventStats {
        self.stats
    }

    /// Subscriptions that exist (ended ones included, until they are dropped).
    #[must_use]
    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }

    /// Whether `server`'s publisher is connected (as last reported).
    #[must_use]
    pub fn is_connected(&self, server: S) -> bool {
        self.publishers.get(&server).is_some_and(|p| p.connected)
    }

    /// Events queued for `id`.
    #[must_use]
    pub fn queued(&self, id: SubscriptionId) -> usize {
        self.subscribers.get(&id).map_or(0, |s| s.queue.len())
    }

    // ----- commands -----

    /// Subscribes to `topic` (`"<thing id>/<event name>"`) on `server`, with a queue of
    /// `queue_len` events.
    pub fn subscribe(
        &mut self,
        server: S,
        topic: &str,
        queue_len: usize,
    ) -> Result<SubscriptionId, SubscribeError> {
        let limits = &self.config;
        if self.closed {
            return Err(SubscribeError::Closed);
        }
        if self.subscribers.len() >= limits.max_subscriptions {
            return Err(SubscribeError::TooMany {
                limit: limits.max_subscriptions,
            });
        }
        if topic.is_empty() {
            return Err(SubscribeError::EmptyTopic);
        }
        if topic.len() > limits.max_topic_len {
            return Err(SubscribeError::TopicTooLong {
                limit: limits.max_topic_len,
            });
        }
        if queue_len == 0 || queue_len > limits.max_queue_len {
            return Err(SubscribeError::QueueLen {
                limit: limits.max_queue_len,
            });
        }
        let id = SubscriptionId(self.next_id);
        self.next_id += 1;
        let publisher = self.publishers.entry(server).or_default();
        let subscribers = publisher.topics.entry(String::from(topic)).or_default();
        if subscribers.is_empty() {
            self.changed.insert(server);
        }
        subscribers.push(id);
        self.subscribers.insert(
            id,
            Subscriber {
                server,
                topic: String::from(topic),
                queue: Queue::new(queue_len),
                seq: 0,
                ended: false,
                lost: false,
                wake_pending: false,
            },
        );
        Ok(id)
    }

    /// Ends subscription `id` and forgets it; its topic is no longer wanted if it was the last
    /// subscriber. `false` if there was no such subscription.
    pub fn unsubscribe(&mut self, id: SubscriptionId) -> bool {
        let Some(sub) = self.subscribers.remove(&id) else {
            return false;
        };
        self.woken.retain(|w| *w != id);
        if !sub.ended {
            self.release_topic(sub.server, &sub.topic, id);
        }
        true
    }

    /// Ends every subscription of `server` (it left the pool). Their consumers read what is
    /// queued, then the end.
    pub fn remove_server(&mut self, server: S) {
        let Some(publisher) = self.publishers.remove(&server) else {
            return;
        };
        self.changed.insert(server);
        for id in publisher.topics.into_values().flatten() {
            self.end(id);
        }
    }

    /// Ends every subscription and refuses new ones (the pool closed).
    pub fn close(&mut self) {
        self.closed = true;
        let servers: Vec<S> = self.publishers.keys().copied().collect();
        for server in servers {
            self.remove_server(server);
        }
    }

    // ----- inputs -----

    /// An event arrived from `server`'s publisher: queues it for every subscription of its
    /// topic. Returns how many got it.
    pub fn handle_event(&mut self, server: S, frames: &[F]) -> Result<usize, Refused> {
        let refused = |stats: &mut EventStats, why: Refused| {
            match why {
                Refused::Malformed(_) => stats.malformed += 1,
                Refused::Unmatched => stats.unmatched += 1,
            }
            Err(why)
        };
        let [topic, delimiter, header, payload, preserialized] = frames else {
            return refused(
                &mut self.stats,
                Refused::Malformed(MalformedEvent::FrameCount(frames.len())),
            );
        };
        let parts = [
            topic.as_ref(),
            delimiter.as_ref(),
            header.as_ref(),
            payload.as_ref(),
            preserialized.as_ref(),
        ];
        let decoded = match classify_event(&parts) {
            Ok(decoded) => decoded,
            Err(e) => return refused(&mut self.stats, Refused::Malformed(e)),
        };
        self.stats.received += 1;
        let Some(ids) = self
            .publishers
            .get(&server)
            .and_then(|p| p.topics.get(decoded.event_id))
        else {
            return refused(&mut self.stats, Refused::Unmatched);
        };
        for id in ids {
            let Some(sub) = self.subscribers.get_mut(id) else {
                continue;
            };
            sub.seq += 1;
            let event = Event {
                seq: sub.seq,
                header: decoded.header.clone(),
                payload: payload.clone(),
                preserialized: preserialized.clone(),
            };
            if sub.queue.push(event) {
                self.stats.lagged += 1;
            }
            self.stats.delivered += 1;
            wake(&mut self.woken, *id, sub);
        }
        Ok(ids.len())
    }

    /// `server`'s publisher is connected and subscribed to every topic [`Self::wanted`] gave.
    /// Its subscriptions that got [`Item::Disconnected`] get [`Item::Reconnected`] (a
    /// subscription made during the outage had no gap: its first connection is no item, like
    /// any first connection).
    pub fn handle_connected(&mut self, server: S) {
        let Some(publisher) = self.publishers.get_mut(&server) else {
            return;
        };
        // Only a subscription marked lost hears of a return, so a first connection (none is
        // marked yet) needs no flag of its own; an already connected one renewed its topics.
        let returned = !publisher.connected;
        publisher.connected = true;
        publisher.failures = 0;
        if returned {
            self.mark(server, |sub| {
                let lost = core::mem::take(&mut sub.lost);
                if lost {
                    sub.queue.push_reconnected();
                }
                lost
            });
        }
    }

    /// `server`'s publisher was lost, or connecting to it failed. Connected subscriptions get
    /// [`Item::Disconnected`]. Returns how long to wait before connecting again.
    pub fn handle_lost(&mut self, server: S) -> Duration {
        let Some(publisher) = self.publishers.get_mut(&server) else {
            return self.config.reconnect_min;
        };
        let was_connected = publisher.connected;
        publisher.connected = false;
        let delay = self
            .config
            .reconnect_min
            .doubled(publisher.failures, self.config.reconnect_max);
        publisher.failures = publisher.failures.saturating_add(1);
        if was_connected {
            self.stats.lost += 1;
            self.mark(server, |sub| {
                sub.lost = true;
                sub.queue.push_disconnected();
                true
            });
        }
        delay
    }

    // ----- outputs -----

    /// A server whose wanted topics changed: the driver reads [`Self::wanted`] and opens,
    /// renews or (when none is wanted) closes its SUB socket.
    pub fn poll_change(&mut self) -> Option<S> {
        self.changed.pop_first()
    }

    /// A subscription with news for its consumer (wake it).
    pub fn poll_woken(&mut self) -> Option<SubscriptionId> {
        let id = self.woken.pop_front()?;
        if let Some(sub) = self.subscribers.get_mut(&id) {
            sub.wake_pending = false;
        }
        Some(id)
    }

    /// The consumer of `id` takes its next item.
    pub fn pop(&mut self, id: SubscriptionId) -> Pop<F> {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return Pop::Unknown;
        };
        match sub.queue.pop() {
            Some(item) => Pop::Item(item),
            None if sub.ended => Pop::Ended,
            None => Pop::Empty,
        }
    }

    // ----- helpers -----

    fn release_topic(&mut self, server: S, topic: &str, id: SubscriptionId) {
        let Some(publisher) = self.publishers.get_mut(&server) else {
            return;
        };
        let Some(ids) = publisher.topics.get_mut(topic) else {
            return;
        };
        ids.retain(|i| *i != id);
        if ids.is_empty() {
            publisher.topics.remove(topic);
            self.changed.insert(server);
            if publisher.topics.is_empty() {
                self.publishers.remove(&server);
            }
        }
    }

    fn end(&mut self, id: SubscriptionId) {
        if let Some(sub) = self.subscribers.get_mut(&id) {
            sub.ended = true;
            wake(&mut self.woken, id, sub);
        }
    }

    /// Applies `f` to every subscription of `server` and wakes those it marked (`true`).
    fn mark(&mut self, server: S, f: impl Fn(&mut Subscriber<S, F>) -> bool) {
        let Some(publisher) = self.publishers.get(&server) else {
            return;
        };
        for id in publisher.topics.values().flatten() {
            if let Some(sub) = self.subscribers.get_mut(id) {
                if f(sub) {
                    wake(&mut self.woken, *id, sub);
                }
            }
        }
    }
}

fn wake<S, F>(
    woken: &mut VecDeque<SubscriptionId>,
    id: SubscriptionId,
    sub: &mut Subscriber<S, F>,
) {
    if !sub.wake_pending {
        sub.wake_pending = true;
        woken.push_back(id);
    }
}
