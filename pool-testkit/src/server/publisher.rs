//! A server's event publisher: its one PUB socket for all its Things' events
//! (docs/protocol.md §17), shared by the handle, the workers and the stream threads of a run.
//!
//! Invariants:
//! * one run, one PUB socket, bound at [`crate::events::publisher_endpoint`] of every request
//!   endpoint; it lives in a mutex slot with the PRNG of its message ids, so each message goes
//!   out whole and the ids are uuid4s never repeated within a run;
//! * sending never blocks the server: the socket has a send high-water mark and PUB drops what a
//!   slow subscriber's full pipe cannot take (`DONTWAIT`);
//! * [`Publisher::close`] empties the slot, after which every publish is refused (`false`), so
//!   the run can close the socket before its context terminates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use pool_core::SplitMix64;

use crate::error::Error;
use crate::events::{event_frames, event_id, publisher_id, HostileEvent};
use crate::lock::lock;
use crate::protocol::uuid4;

/// The socket and the id stream of a publisher.
struct Slot {
    socket: zmq::Socket,
    rng: SplitMix64,
}

/// One run's PUB socket.
pub(super) struct Publisher {
    sender_id: String,
    slot: Mutex<Option<Slot>>,
    /// Events handed to the socket, cumulative over runs (shared with the handle).
    published: Arc<AtomicU64>,
}

impl Publisher {
    /// A PUB socket of `ctx` with send high-water mark `hwm` and linger 0, bound to every one of
    /// `endpoints`.
    pub(super) fn open(
        ctx: &zmq::Context,
        server_id: &str,
        endpoints: &[String],
        hwm: i32,
        published: Arc<AtomicU64>,
    ) -> Result<Publisher, Error> {
        let socket = ctx.socket(zmq::PUB)?;
        socket.set_linger(0)?;
        socket.set_sndhwm(hwm)?;
        for endpoint in endpoints {
            socket.bind(endpoint).map_err(|source| Error::EventBind {
                endpoint: endpoint.clone(),
                source,
            })?;
        }
        Ok(Publisher {
            sender_id: publisher_id(server_id),
            slot: Mutex::new(Some(Slot {
                socket,
                rng: SplitMix64::new(seed(server_id)),
            })),
            published,
        })
    }

    /// Publishes event `event` of `thing` with the JSON `payload`; false once closed.
    pub(super) fn publish(&self, thing: &str, event: &str, payload: Vec<u8>) -> bool {
        let id = event_id(thing, event);
        self.send_with(|message_id, sender| event_frames(message_id, sender, &id, payload))
    }

    /// Publishes a hostile event made from `thing`'s `event`; false once closed.
    pub(super) fn publish_hostile(&self, thing: &str, event: &str, kind: HostileEvent) -> bool {
        self.send_with(|message_id, sender| kind.frames(message_id, sender, thing, event))
    }

    /// Publishes `frames` verbatim; false once closed.
    pub(super) fn publish_raw(&self, frames: Vec<Vec<u8>>) -> bool {
        self.send_with(|_, _| frames)
    }

    /// Sends the frames `make` builds from a fresh message id and the sender id.
    fn send_with(&self, make: impl FnOnce(&str, &str) -> Vec<Vec<u8>>) -> bool {
        let mut slot = lock(&self.slot);
        let Some(slot) = slot.as_mut() else {
            return false;
        };
        let frames = make(&uuid4(&mut slot.rng), &self.sender_id);
        // PUB never blocks and never reports a full pipe: the message is dropped for that peer.
        let sent = slot.socket.send_multipart(frames, zmq::DONTWAIT).is_ok();
        if sent {
            self.published.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Closes the socket; every later publish returns false.
    pub(super) fn close(&self) {
        drop(lock(&self.slot).take());
    }
}

/// A seed that differs between servers and runs, so message ids look like real uuid4s.
fn seed(server_id: &str) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    server_id
        .bytes()
        .fold(nanos, |h, b| h.rotate_left(5) ^ u64::from(b))
}
