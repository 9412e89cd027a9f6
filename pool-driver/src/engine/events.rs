//! The engine's event subscriptions: the core's [`Subscriptions`] and the driver's publisher
//! links beside it, behind their own lock, and what the subscriber tasks and the
//! [`Subscription`] streams see of them.
//!
//! Every input (a subscribe, a drop, an event, a publisher's loss or return) takes the events
//! lock, gives the core its input and drains the core's outputs before the lock is released:
//! changed servers open, renew or close their publisher link; woken subscriptions have their
//! wakers woken after the lock is released (on the event path, by the subscriber task once per
//! burst of events, so a consumer that keeps up is woken once per burst, not per event).
//!
//! Invariants:
//! * lock order: the engine's state lock, then the events lock, never the other way; the
//!   event path (a message from a publisher) takes only the events lock;
//! * a server has a publisher link exactly while the core wants topics from it;
//! * a subscription's waker is kept only while it waits, and goes with the subscription.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use zeromq::ZmqMessage;

use super::Engine;
use crate::endpoint::hololinked_event_endpoint;
use crate::error::Error;
use crate::settings::Settings;
use crate::signal::Signal;
use crate::subscriber::{self, Ended, PublisherHost, PublisherTarget};
use crate::subscription::{EventSource, Subscription, Target, BATCH};
use crate::Runtime;
use pool_core::events::{Item, Pop, Refused, SubscribeError, SubscriptionId, Subscriptions};
use pool_core::pool::ServerId;

/// The driver's side of one server's publisher link.
struct PublisherLink {
    epoch: u64,
    wake: Arc<Signal>,
}

/// A server as the events part knows it: its name and its publisher's endpoint.
struct Publisher {
    name: Arc<str>,
    endpoint: Arc<str>,
    link: Option<PublisherLink>,
}

/// Everything behind the events lock.
pub(super) struct EventState {
    subs: Subscriptions<ServerId, Bytes>,
    publishers: HashMap<ServerId, Publisher>,
    wakers: HashMap<SubscriptionId, Waker>,
    /// Publisher links made so far; the current one's epoch.
    epochs: u64,
}

impl EventState {
    pub(super) fn new(config: pool_core::events::Config) -> EventState {
        EventState {
            subs: Subscriptions::new(config),
            publishers: HashMap::new(),
            wakers: HashMap::new(),
            epochs: 0,
        }
    }

    pub(super) fn stats(&self) -> pool_core::events::EventStats {
        self.subs.stats()
    }

    pub(super) fn len(&self) -> usize {
        self.subs.len()
    }
}

/// A subscription's target, resolved from the engine's records.
pub(crate) struct Resolved {
    server: ServerId,
    server_name: Arc<str>,
    thing: Arc<str>,
    endpoint: Arc<str>,
}

impl Resolved {
    /// The Thing's name.
    pub(crate) fn thing(&self) -> &str {
        &self.thing
    }
}

impl<Rt: Runtime> Engine<Rt> {
    /// Where `thing`'s events come from: its server and that server's publisher endpoint.
    pub(crate) fn resolve_publisher(&self, thing: &str) -> Result<Resolved, Error> {
        let state = self.lock();
        if state.closed {
            return Err(crate::outcome::closed(thing));
        }
        let Some(slot) = state.things.get(thing) else {
            return Err(super::records::unknown_thing(&state, thing.to_owned()));
        };
        let Some(server) = state.servers.get(&slot.server) else {
            return Err(crate::outcome::closed(thing));
        };
        let endpoint = match &server.publisher {
            Some(endpoint) => Arc::clone(endpoint),
            None => hololinked_event_endpoint(&server.name, &server.endpoint)
                .map(Arc::from)
                .ok_or_else(|| Error::InvalidEndpoint {
                    endpoint: server.endpoint.to_string(),
                    reason: format!(
                        "no event publisher endpoint follows from it by hololinked's convention; \
                         set one with set_publisher(\"{}\", ...)",
                        server.name
                    ),
                })?,
        };
        Ok(Resolved {
            server: slot.server,
            server_name: Arc::clone(&server.name),
            thing: Arc::clone(&slot.name),
            endpoint,
        })
    }

    /// Sets the event publisher endpoint of server `id` (for subscriptions that connect from
    /// now on).
    pub(crate) fn set_publisher(&self, id: &str, endpoint: &str) -> Result<(), Error> {
        let mut state = self.lock();
        let server = *state
            .server_ids
            .get(id)
            .ok_or_else(|| Error::UnknownServer {
                server: id.to_owned(),
            })?;
        if let Some(slot) = state.servers.get_mut(&server) {
            slot.publisher = Some(Arc::from(endpoint));
        }
        Ok(())
    }

    /// Subscribes to `event_id` of the Thing and server `at` names.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        at: Resolved,
        event_id: &str,
    ) -> Result<Subscription, Error> {
        let queue_len = self.settings.event_queue_len;
        let id = self.events_input(|events| {
            let id = events
                .subs
                .subscribe(at.server, event_id, queue_len)
                .map_err(|e| subscribe_error(&e, &at.thing, event_id))?;
            let publisher = events.publishers.entry(at.server).or_insert(Publisher {
                name: Arc::clone(&at.server_name),
                endpoint: Arc::clone(&at.endpoint),
                link: None,
            });
            if publisher.link.is_none() {
                publisher.endpoint = Arc::clone(&at.endpoint);
            }
            Ok(id)
        })?;
        let source: Arc<dyn EventSource> = Arc::clone(self) as Arc<dyn EventSource>;
        Ok(Subscription::new(
            source,
            Target {
                id,
                thing: at.thing,
                event_id: Arc::from(event_id),
                server: at.server,
                endpoint: at.endpoint,
            },
        ))
    }

    /// Ends the subscriptions of `server` (it left the pool). Called with the state lock held.
    pub(super) fn events_remove_server(self: &Arc<Self>, server: ServerId) {
        self.events_input(|events| {
            events.subs.remove_server(server);
        });
    }

    /// Ends every subscription (the pool closed). Called with the state lock held.
    pub(super) fn events_close(self: &Arc<Self>) {
        self.events_input(|events| events.subs.close());
    }

    pub(super) fn events_lock(&self) -> MutexGuard<'_, EventState> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the events lock, runs `input`, carries out the core's outputs, releases the lock
    /// and wakes the subscriptions that have news.
    fn events_input<T>(self: &Arc<Self>, input: impl FnOnce(&mut EventState) -> T) -> T {
        let mut to_wake = Vec::new();
        let result = self.events_input_deferred(&mut to_wake, input);
        for waker in to_wake {
            waker.wake();
        }
        result
    }

    /// As [`Self::events_input`], but the wakers of the subscriptions that have news are added
    /// to `to_wake`, for the caller to wake once it holds no lock.
    fn events_input_deferred<T>(
        self: &Arc<Self>,
        to_wake: &mut Vec<Waker>,
        input: impl FnOnce(&mut EventState) -> T,
    ) -> T {
        let mut events = self.events_lock();
        let result = input(&mut events);
        self.events_drain(&mut events, to_wake);
        result
    }

    fn events_drain(self: &Arc<Self>, events: &mut EventState, to_wake: &mut Vec<Waker>) {
        while let Some(server) = events.subs.poll_change() {
            let wanted = events.subs.wanted(server).next().is_some();
            if wanted {
                self.open_publisher(events, server);
            } else if let Some(publisher) = events.publishers.remove(&server) {
                if let Some(link) = publisher.link {
                    link.wake.raise();
                }
            }
        }
        while let Some(id) = events.subs.poll_woken() {
            if let Some(waker) = events.wakers.remove(&id) {
                to_wake.push(waker);
            }
        }
    }

    /// Opens `server`'s publisher link, or has the running one renew its subscriptions.
    fn open_publisher(self: &Arc<Self>, events: &mut EventState, server: ServerId) {
        events.epochs += 1;
        let epoch = events.epochs;
        let Some(publisher) = events.publishers.get_mut(&server) else {
            return;
        };
        if let Some(link) = &publisher.link {
            link.wake.raise();
            return;
        }
        let wake = Arc::new(Signal::default());
        publisher.link = Some(PublisherLink {
            epoch,
            wake: Arc::clone(&wake),
        });
        let target = PublisherTarget {
            server,
            epoch,
            name: Arc::clone(&publisher.name),
            endpoint: Arc::clone(&publisher.endpoint),
            wake,
        };
        self.counters.publisher_connects.add(1);
        let task = subscriber::run(Arc::clone(self), target);
        self.spawn_task(Arc::new(AtomicBool::new(true)), task);
    }

    fn is_current_publisher(events: &EventState, target: &PublisherTarget) -> bool {
        events
            .publishers
            .get(&target.server)
            .and_then(|p| p.link.as_ref())
            .is_some_and(|l| l.epoch == target.epoch)
    }
}

impl<Rt: Runtime> PublisherHost for Engine<Rt> {
    type Rt = Rt;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn runtime(&self) -> &Rt {
        &self.rt
    }

    fn wanted(&self, target: &PublisherTarget) -> Option<BTreeSet<String>> {
        let events = self.events_lock();
        Self::is_current_publisher(&events, target).then(|| {
            events
                .subs
                .wanted(target.server)
                .map(str::to_owned)
                .collect()
        })
    }

    fn connected(self: &Arc<Self>, target: &PublisherTarget) {
        self.events_input(|events| {
            if Self::is_current_publisher(events, target) {
                events.subs.handle_connected(target.server);
            }
        });
    }

    fn events(
        self: &Arc<Self>,
        target: &PublisherTarget,
        messages: &mut Vec<ZmqMessage>,
        to_wake: &mut Vec<Waker>,
    ) {
        self.events_input_deferred(to_wake, |events| {
            if !Self::is_current_publisher(events, target) {
                messages.clear();
                return;
            }
            for message in messages.drain(..) {
                let mut frames = message.into_vecdeque();
                match events
                    .subs
                    .handle_event(target.server, frames.make_contiguous())
                {
                    Ok(_) | Err(Refused::Unmatched) => {}
                    Err(Refused::Malformed(why)) => {
                        tracing::debug!(server = %target.name, %why, "malformed event dropped");
                    }
                }
            }
        });
    }

    fn lost(self: &Arc<Self>, target: &PublisherTarget, ended: &Ended) -> Option<Duration> {
        if ended.protocol_error {
            self.counters.event_protocol_errors.add(1);
        }
        self.events_input(|events| {
            Self::is_current_publisher(events, target)
                .then(|| events.subs.handle_lost(target.server).into())
        })
    }
}

impl<Rt: Runtime> EventSource for Engine<Rt> {
    fn poll_items(
        &self,
        id: SubscriptionId,
        cx: &mut Context<'_>,
        into: &mut VecDeque<Item<Bytes>>,
    ) -> Poll<Option<()>> {
        let mut events = self.events_lock();
        loop {
            match events.subs.pop(id) {
                Pop::Item(item) => {
                    into.push_back(item);
                    if into.len() == BATCH {
                        return Poll::Ready(Some(()));
                    }
                }
                Pop::Empty | Pop::Ended | Pop::Unknown if !into.is_empty() => {
                    return Poll::Ready(Some(()));
                }
                Pop::Empty => {
                    match events.wakers.get_mut(&id) {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        Some(w) => w.clone_from(cx.waker()),
                        None => {
                            events.wakers.insert(id, cx.waker().clone());
                        }
                    }
                    return Poll::Pending;
                }
                Pop::Ended | Pop::Unknown => return Poll::Ready(None),
            }
        }
    }

    fn unsubscribe(self: Arc<Self>, id: SubscriptionId) {
        self.events_input(|events| {
            events.subs.unsubscribe(id);
            events.wakers.remove(&id);
        });
    }

    fn publisher_connected(&self, server: ServerId) -> bool {
        self.events_lock().subs.is_connected(server)
    }

    fn queued(&self, id: SubscriptionId) -> usize {
        self.events_lock().subs.queued(id)
    }
}

/// A subscription the core refused, as the pool's error.
fn subscribe_error(e: &SubscribeError, thing: &str, event_id: &str) -> Error {
    match e {
        SubscribeError::Closed => crate::outcome::closed(thing),
        other => Error::Config(format!("cannot subscribe to `{event_id}`: {other}")),
    }
}
