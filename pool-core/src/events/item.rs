//! What a subscription yields: events, and the gaps between them as items of their own.

use crate::wire::EventHeader;

/// One event as a subscription holds it. `F` is the driver's frame type (`bytes::Bytes` in the
/// async driver): the payload frames are kept as they arrived, never copied or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<F> {
    /// 1 for the first event this subscription received, counting every event that reached
    /// it, so events dropped for lag leave a gap in the numbers that matches the
    /// [`Item::Lagged`] count.
    pub seq: u64,
    /// The decoded header (message id, content types).
    pub header: EventHeader,
    /// The payload frame, serialized as `header.payload_content_type` says.
    pub payload: F,
    /// The preserialized payload frame (often empty).
    pub preserialized: F,
}

/// An item of a subscription, in the order things happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<F> {
    /// An event the publisher sent.
    Event(Event<F>),
    /// This many events were dropped, oldest first, because the subscription's queue was full
    /// (the consumer read too slowly). The next event's `seq` is that much past the last one.
    Lagged(u64),
    /// The connection to the publisher was lost. Events published until [`Item::Reconnected`]
    /// are lost (PUB/SUB keeps nothing for a subscriber that is not connected).
    Disconnected,
    /// The publisher is connected again and the subscription is renewed.
    Reconnected,
}

/// An item that is not an event: one part of a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    Lagged(u64),
    Disconnected,
    Reconnected,
}

impl<F> From<Marker> for Item<F> {
    fn from(marker: Marker) -> Item<F> {
        match marker {
            Marker::Lagged(n) => Item::Lagged(n),
            Marker::Disconnected => Item::Disconnected,
            Marker::Reconnected => Item::Reconnected,
        }
    }
}
