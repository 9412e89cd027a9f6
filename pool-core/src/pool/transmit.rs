//! The transmit side of the pool: which message goes out next, and its header.
//!
//! Invariants:
//! * servers take turns (the transmit rotation), so one busy server cannot starve the others;
//!   a server at its in-flight limit leaves the rotation until a reply frees room;
//! * a HANDSHAKE that is due goes before the server's queued requests;
//! * a request is marked sent when it is handed out; a oneway request ends `Sent` then;
//! * a request whose header does not fit the caller's buffer ends `Unsendable`, never half
//!   written; a HANDSHAKE that does not fit loses the server (its requests end by deadline).

use super::engine::slot_links;
use super::memory::{Memory, SlotState};
use super::outgoing::Outgoing;
use super::{LostReason, Outcome, Pool, RequestId, RequestSpec, ServerId};
use crate::id::{MessageIdText, HANDSHAKE_SLOT};
use crate::wire::{self, RequestFields};

/// One message for the transport to send: `[b"", header, payload, preserialized]` on the DEALER
/// of `server`.
#[derive(Debug)]
pub struct Transmit<'a, R> {
    /// Which server's connection.
    pub server: ServerId,
    /// The message id written in the header.
    pub message_id: MessageIdText,
    /// The encoded header frame (a prefix of the caller's buffer).
    pub header: &'a [u8],
    /// What it is.
    pub kind: TransmitKind<'a, R>,
}

/// What a [`Transmit`] carries besides its header.
#[derive(Debug)]
pub enum TransmitKind<'a, R> {
    /// A HANDSHAKE: payload frame [`wire::NULL_PAYLOAD`], empty preserialized frame.
    Handshake,
    /// A request: the payload frames are the caller's, found through `user`.
    Request {
        /// Which request (report it to `handle_send_failed` if the send fails).
        id: RequestId,
        /// The caller's request value.
        user: &'a R,
    },
}

/// A transmit taken off the rotation, before its header is written.
struct NextTransmit {
    server: u32,
    server_id: ServerId,
    message_id: MessageIdText,
    request: Option<RequestId>,
}

impl<R, M: Memory<R>> Pool<R, M> {
    /// The next message to send, with its header written into `buf` (which should be at least
    /// `Config::max_header_len` bytes; a request whose header does not fit ends `Unsendable`).
    /// Servers take turns, so one busy server cannot starve the others.
    #[must_use = "a transmit is taken off the pool: send it"]
    pub fn poll_transmit<'a>(&'a mut self, buf: &'a mut [u8]) -> Option<Transmit<'a, R>>
    where
        R: RequestSpec,
    {
        loop {
            let next = self.next_transmit()?;
            let encoded = self
                .outgoing(&next)
                .and_then(|o| wire::encode_request(&o.header(), buf).ok());
            let Some(len) = encoded else {
                self.unsendable(&next);
                // A HANDSHAKE that does not fit stops here; a request that does not fit is skipped.
                next.request?;
                continue;
            };
            self.mark_oneway_sent(&next);
            let outgoing = self.outgoing(&next)?;
            return Some(Transmit {
                server: outgoing.server,
                message_id: outgoing.message_id,
                header: buf.get(..len)?,
                kind: outgoing.kind,
            });
        }
    }

    /// Like [`poll_transmit`](Self::poll_transmit), but hands out the header fields instead of
    /// encoding them: the `lifecycle` bench measures the state machine without the encoder
    /// (feature `bench-internals`; not part of the driver's contract). The encoded header is
    /// never longer than `Config::max_header_len` (checked when the request started).
    #[cfg(feature = "bench-internals")]
    #[must_use = "an outgoing message is taken off the pool: send it"]
    pub fn poll_outgoing(&mut self) -> Option<Outgoing<'_, R>>
    where
        R: RequestSpec,
    {
        let next = self.next_transmit()?;
        self.mark_oneway_sent(&next);
        self.outgoing(&next)
    }

    /// Takes the next message off the transmit rotation and marks it sent.
    fn next_transmit(&mut self) -> Option<NextTransmit> {
        let ids = self.ids;
        let mut v = self.view();
        loop {
            let server = v.state.tx_servers.front()?;
            let server_id = v.server_id_at(server);
            let entry = v.tables.servers.get_mut(server as usize)?;
            if entry.handshake_due {
                entry.handshake_due = false;
                let counter = v.state.handshake_counter;
                v.state.handshake_counter = counter.wrapping_add(1);
                v.state.stats.handshakes_sent = v.state.stats.handshakes_sent.wrapping_add(1);
                v.rotate_tx(server);
                let message_id = ids.encode(HANDSHAKE_SLOT, counter);
                return Some(NextTransmit {
                    server,
                    server_id,
                    message_id,
                    request: None,
                });
            }
            let Some(index) = entry.queued.pop_front(v.tables.slots, slot_links) else {
                v.rotate_tx(server);
                continue;
            };
            let slot = v.tables.slots.get_mut(index as usize)?;
            slot.state = SlotState::Sent;
            let id = RequestId {
                slot: index,
                generation: slot.generation,
            };
            if let Some(e) = v.tables.servers.get_mut(server as usize) {
                e.sent.push_back(v.tables.slots, index, slot_links);
            }
            // After counting it as sent: a server at its in-flight limit leaves the rotation.
            v.rotate_tx(server);
            v.state.stats.requests_sent = v.state.stats.requests_sent.wrapping_add(1);
            let message_id = ids.encode(id.slot, id.generation);
            return Some(NextTransmit {
                server,
                server_id,
                message_id,
                request: Some(id),
            });
        }
    }

    /// A oneway request ends `Sent` once it is handed out (its value stays readable until its
    /// completion is polled).
    fn mark_oneway_sent(&mut self, next: &NextTransmit) {
        let Some(id) = next.request else { return };
        let mut v = self.view();
        if v.tables
            .slots
            .get(id.slot())
            .is_some_and(|s| s.oneway && s.state == SlotState::Sent)
        {
            v.finish_later(id.slot, Outcome::Sent);
        }
    }

    /// The transmit could not be encoded into the caller's buffer.
    fn unsendable(&mut self, next: &NextTransmit) {
        let mut v = self.view();
        match next.request {
            Some(id) => {
                v.state.stats.requests_sent = v.state.stats.requests_sent.wrapping_sub(1);
                v.finish_later(id.slot, Outcome::Unsendable);
            }
            // A buffer too small even for a HANDSHAKE: the server can never become ready
            // through this driver. Lose it, so its requests end by their deadlines.
            None => {
                let now = v.state.now;
                v.lose(next.server, LostReason::SendFailed, now);
            }
        }
    }

    fn outgoing(&self, next: &NextTransmit) -> Option<Outgoing<'_, R>>
    where
        R: RequestSpec,
    {
        let parts = self.mem.parts_ref();
        let receiver = parts.servers.get(next.server as usize)?;
        let (kind, fields) = match next.request {
            None => (TransmitKind::Handshake, RequestFields::handshake()),
            Some(id) => {
                let user = parts.slots.get(id.slot())?.user.as_ref()?;
                (TransmitKind::Request { id, user }, user.fields())
            }
        };
        Some(Outgoing {
            server: next.server_id,
            message_id: next.message_id,
            sender_id: &self.client_id,
            receiver_id: &receiver.identity,
            key_style: self.config.key_style,
            fields,
            kind,
        })
    }
}
