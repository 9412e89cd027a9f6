//! A subscription to one event of one Thing: a `futures::Stream` of [`EventItem`]s.
//!
//! Invariants:
//! * the stream ends (`None`) only when the subscription can never yield again: its server
//!   was removed or the pool closed, after everything queued was read;
//! * gaps are items, never an end: [`EventItem::Lagged`] when the bounded queue dropped old
//!   events for a slow consumer, [`EventItem::Disconnected`] and [`EventItem::Reconnected`]
//!   around a publisher outage;
//! * dropping the subscription unsubscribes it (the pool's SUB socket unsubscribes the topic
//!   when no other subscription wants it, and closes when none is left).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::preview::Preview;
use pool_core::events::{Item, SubscriptionId};
use pool_core::pool::ServerId;
use pool_core::wire::{ContentType, CONTENT_TYPE_JSON};

/// One event a Thing published.
///
/// The frames are reference-counted views of the received message: nothing is copied, and
/// subscribers of the same event share them.
#[derive(Clone)]
pub struct Event {
    pub(crate) thing: Arc<str>,
    pub(crate) event_id: Arc<str>,
    pub(crate) seq: u64,
    pub(crate) header: pool_core::wire::EventHeader,
    pub(crate) payload: Bytes,
    pub(crate) preserialized: Bytes,
}

/// The event's id and number, its message id, and its payload frames cut short.
impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("event_id", &&*self.event_id)
            .field("seq", &self.seq)
            .field("message_id", &self.message_id())
            .field("payload", &Preview(&self.payload))
            .field("preserialized", &Preview(&self.preserialized))
            .finish_non_exhaustive()
    }
}

impl Event {
    /// The Thing that published it.
    #[must_use]
    pub fn thing(&self) -> &str {
        &self.thing
    }

    /// The event id, `"<thing id>/<event name>"` (the SUB topic).
    #[must_use]
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// 1 for the first event of this subscription, counting every event that reached it: the
    /// events an [`EventItem::Lagged`] reports dropped leave the same gap in the numbers.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The event message's id (a uuid4 on hololinked), if it had one.
    #[must_use]
    pub fn message_id(&self) -> Option<&str> {
        self.header.message_id_str()
    }

    /// The serialized payload (frame 3).
    #[must_use]
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The preserialized payload (frame 4), empty when none.
    #[must_use]
    pub fn preserialized(&self) -> &Bytes {
        &self.preserialized
    }

    /// `payloadContentType` (`application/json` when the header does not say).
    #[must_use]
    pub fn payload_content_type(&self) -> &str {
        match self.header.payload_content_type.as_str() {
            "" => CONTENT_TYPE_JSON,
            named => named,
        }
    }

    /// `preencodedPayloadContentType` (empty when the header does not say).
    #[must_use]
    pub fn preserialized_content_type(&self) -> &ContentType {
        &self.header.preencoded_content_type
    }

    /// Decodes the payload as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(|e| Error::Decode {
            thing: self.thing.to_string(),
            content_type: self.payload_content_type().to_owned(),
            message: e.to_string(),
        })
    }

    /// The payload as a JSON value.
    pub fn value(&self) -> Result<serde_json::Value, Error> {
        self.json()
    }
}

/// What a [`Subscription`] yields, in the order things happened.
// An event is moved a few times between its queue and its consumer; boxing it would cost an
// allocation per event, for markers that are rare.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum EventItem {
    /// An event.
    Event(Event),
    /// This many events were dropped, oldest first, because the consumer read too slowly and
    /// the subscription's queue was full (`PoolBuilder::event_queue_len`).
    Lagged(u64),
    /// The connection to the Thing's event publisher was lost. What it publishes until
    /// [`EventItem::Reconnected`] is lost: PUB/SUB keeps nothing for an absent subscriber.
    Disconnected,
    /// The publisher is connected again and the subscription renewed.
    Reconnected,
}

impl EventItem {
    /// The event, if this item is one.
    #[must_use]
    pub fn event(&self) -> Option<&Event> {
        match self {
            EventItem::Event(e) => Some(e),
            _ => None,
        }
    }

    /// The event, if this item is one.
    #[must_use]
    pub fn into_event(self) -> Option<Event> {
        match self {
            EventItem::Event(e) => Some(e),
            _ => None,
        }
    }
}

/// Items a [`Subscription`] moves out of the pool's queue under one lock, at most: a consumer
/// that keeps up takes a burst at a time instead of one lock per event. They are the oldest
/// items, so the bounded queue still drops the oldest of what is left.
pub(crate) const BATCH: usize = 64;

/// What a [`Subscription`] needs from the pool (the engine is one).
pub(crate) trait EventSource: Send + Sync {
    /// Moves up to [`BATCH`] items of `id`, oldest first, into `into` (`Ready(Some(()))`), or
    /// keeps the waker for when there are some (`Pending`); `Ready(None)` once the
    /// subscription has ended and everything queued was taken.
    fn poll_items(
        &self,
        id: SubscriptionId,
        cx: &mut Context<'_>,
        into: &mut VecDeque<Item<Bytes>>,
    ) -> Poll<Option<()>>;

    /// Ends subscription `id` (it was dropped).
    fn unsubscribe(self: Arc<Self>, id: SubscriptionId);

    /// Whether `server`'s publisher is connected.
    fn publisher_connected(&self, server: ServerId) -> bool;

    /// Items of `id` still in the pool's queue.
    fn queued(&self, id: SubscriptionId) -> usize;
}

/// A live subscription to one event of one Thing (from `Pool::subscribe_event` or
/// `Pool::observe_property`). A [`Stream`] of [`EventItem`]s; dropping it unsubscribes.
///
/// It holds at most [`PoolBuilder::event_queue_len`](crate::PoolBuilder::event_queue_len)
/// items in the pool's queue plus one burst of up to 64 taken out of it.
pub struct Subscription {
    source: Arc<dyn EventSource>,
    id: SubscriptionId,
    thing: Arc<str>,
    event_id: Arc<str>,
    server: ServerId,
    endpoint: Arc<str>,
    /// Items taken from the pool's queue and not yet yielded, oldest first.
    taken: VecDeque<Item<Bytes>>,
}

/// What a new [`Subscription`] is to (see `Subscription::new`).
pub(crate) struct Target {
    pub(crate) id: SubscriptionId,
    pub(crate) thing: Arc<str>,
    pub(crate) event_id: Arc<str>,
    pub(crate) server: ServerId,
    pub(crate) endpoint: Arc<str>,
}

impl Subscription {
    /// The stream of subscription `target.id`, read from `source`.
    pub(crate) fn new(source: Arc<dyn EventSource>, target: Target) -> Subscription {
        Subscription {
            source,
            id: target.id,
            thing: target.thing,
            event_id: target.event_id,
            server: target.server,
            endpoint: target.endpoint,
            taken: VecDeque::new(),
        }
    }

    /// The event publisher's endpoint this subscription connects to.
    #[must_use]
    pub fn publisher_endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the SUB socket is connected to the publisher now (and subscribed). PUB/SUB
    /// has no handshake, so "connected" says the connection is up, not that the Thing
    /// publishes this event.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.source.publisher_connected(self.server)
    }

    /// The Thing subscribed to.
    #[must_use]
    pub fn thing(&self) -> &str {
        &self.thing
    }

    /// The event id subscribed to, `"<thing id>/<event name>"`.
    #[must_use]
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// Received and not yet read: the events in the pool's queue, and the items (events and
    /// gap markers) this subscription already took out of it.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.taken.len() + self.source.queued(self.id)
    }

    /// The core's item as the public one.
    fn item(&self, item: Item<Bytes>) -> EventItem {
        match item {
            Item::Event(e) => EventItem::Event(Event {
                thing: Arc::clone(&self.thing),
                event_id: Arc::clone(&self.event_id),
                seq: e.seq,
                header: e.header,
                payload: e.payload,
                preserialized: e.preserialized,
            }),
            Item::Lagged(n) => EventItem::Lagged(n),
            Item::Disconnected => EventItem::Disconnected,
            Item::Reconnected => EventItem::Reconnected,
        }
    }
}

impl Stream for Subscription {
    type Item = EventItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EventItem>> {
        let this = self.get_mut();
        if this.taken.is_empty() {
            match this.source.poll_items(this.id, cx, &mut this.taken) {
                Poll::Ready(Some(())) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        match this.taken.pop_front() {
            Some(item) => Poll::Ready(Some(this.item(item))),
            // A source that said Ready took at least one item; should it not have, the next
            // poll asks again.
            None => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        Arc::clone(&self.source).unsubscribe(self.id);
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("event_id", &self.event_id)
            .field("id", &self.id.get())
            .field("taken", &self.taken.len())
            .finish_non_exhaustive()
    }
}
