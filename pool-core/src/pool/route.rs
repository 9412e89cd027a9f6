//! Routing what a server sends: a reply to the request whose message id it carries, a
//! HANDSHAKE answer to its server, anything else to a counted drop reason.
//!
//! Invariants:
//! * a reply reaches only the live request whose slot and generation its id names, on the
//!   server the request went to; late, foreign and misdirected replies are dropped and counted;
//! * anything well-formed from a server proves it alive (liveness), probe or no probe;
//! * no input, however malformed, panics or allocates.

use super::memory::{Memory, SlotState};
use super::{Dropped, Outcome, Pool, RequestId, Routed, ServerId, ServerState};
use crate::id::HANDSHAKE_SLOT;
use crate::time::Instant;
use crate::wire;

impl<R, M: Memory<R>> Pool<R, M> {
    /// A message arrived from `server` (the frames a DEALER receives). Returns what it was; a
    /// reply comes back as the [`Completion`](super::Completion) of its request. Never panics, whatever the bytes.
    #[must_use = "a reply comes back as the completion of its request: hand it on"]
    pub fn handle_message(
        &mut self,
        server: ServerId,
        frames: &[&[u8]],
        now: Instant,
    ) -> Routed<R> {
        self.observe(now);
        match wire::classify_reply(frames) {
            Ok(reply) => self.route_reply(server, &reply, now),
            Err(malformed) => {
                self.state.stats.malformed = self.state.stats.malformed.wrapping_add(1);
                Routed::Malformed(malformed)
            }
        }
    }

    /// Like [`handle_message`](Self::handle_message), for frames already decoded with
    /// [`wire::classify_reply`]: the `lifecycle` bench measures routing without the decoder
    /// (feature `bench-internals`; not part of the driver's contract).
    #[cfg(feature = "bench-internals")]
    #[must_use = "a reply comes back as the completion of its request: hand it on"]
    pub fn handle_reply(
        &mut self,
        server: ServerId,
        reply: &wire::Reply<'_>,
        now: Instant,
    ) -> Routed<R> {
        self.route_reply(server, reply, now)
    }

    /// Routes a classified reply to its request, the HANDSHAKE, or a drop reason.
    fn route_reply(
        &mut self,
        server: ServerId,
        reply: &wire::Reply<'_>,
        now: Instant,
    ) -> Routed<R> {
        self.observe(now);
        let ids = self.ids;
        let mut v = self.view();
        let Some(server_index) = v.server_index(server) else {
            v.state.stats.dropped_unknown_server =
                v.state.stats.dropped_unknown_server.wrapping_add(1);
            return Routed::Dropped(Dropped::UnknownServer);
        };
        if let Some(entry) = v.tables.servers.get_mut(server_index as usize) {
            // Anything well-formed proves the server alive (liveness), probe or no probe.
            entry.heard = now;
            entry.probing = None;
        }
        let outcome = match reply.header.kind {
            wire::ReplyKind::Handshake => {
                v.state.stats.handshake_replies = v.state.stats.handshake_replies.wrapping_add(1);
                let handshaking = v
                    .tables
                    .servers
                    .get(server_index as usize)
                    .is_some_and(|e| matches!(e.state, ServerState::Handshaking { .. }));
                if handshaking {
                    v.become_ready(server_index, now);
                }
                return Routed::Handshake;
            }
            wire::ReplyKind::Reply => Outcome::Reply,
            wire::ReplyKind::Exception => Outcome::Exception,
            wire::ReplyKind::InvalidMessage => Outcome::InvalidMessage,
            wire::ReplyKind::Timeout => match reply.timeout {
                Some(kind) => Outcome::ServerTimeout(kind),
                None => {
                    v.state.stats.malformed = v.state.stats.malformed.wrapping_add(1);
                    return Routed::Malformed(wire::Malformed::TimeoutPayload);
                }
            },
        };
        let decoded = reply.header.message_id.and_then(|text| ids.decode(&text));
        let Some(decoded) = decoded.filter(|d| d.slot != HANDSHAKE_SLOT) else {
            v.state.stats.dropped_foreign = v.state.stats.dropped_foreign.wrapping_add(1);
            return Routed::Dropped(Dropped::Foreign);
        };
        let id = RequestId {
            slot: decoded.slot,
            generation: decoded.generation,
        };
        let in_flight = v.live_slot(id).and_then(|index| {
            let slot = v.tables.slots.get(index as usize)?;
            (slot.state == SlotState::Sent).then_some((index, slot.server))
        });
        match in_flight {
            Some((index, owner)) if owner == server => match v.finish_now(index, outcome) {
                Some(done) => Routed::Completed(done),
                None => Routed::Dropped(Dropped::Late),
            },
            Some(_) => {
                v.state.stats.dropped_wrong_server =
                    v.state.stats.dropped_wrong_server.wrapping_add(1);
                Routed::Dropped(Dropped::WrongServer)
            }
            None => {
                v.state.stats.dropped_late = v.state.stats.dropped_late.wrapping_add(1);
                Routed::Dropped(Dropped::Late)
            }
        }
    }
}
