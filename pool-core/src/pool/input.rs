//! The pool's inputs from the transport and the clock: connected, disconnected, a failed
//! send, a lost connection, the time.
//!
//! Invariants:
//! * time never goes back: every input records the latest `now` it carried;
//! * a lost connection ends the requests in flight on it `Disconnected` at once, never resent;
//!   requests it names as certainly unsent go out first after the next handshake;
//! * `handle_timeout` is harmless early or often: only what is due at `now` expires.

use super::engine::slot_links;
use super::memory::{Memory, SlotState};
use super::{LostReason, Outcome, Pool, RequestId, ServerId, ServerState};
use crate::time::Instant;

impl<R, M: Memory<R>> Pool<R, M> {
    /// The transport connected to `server` (after an [`Event::Connect`](super::Event::Connect)): the handshake starts.
    pub fn handle_connected(&mut self, server: ServerId, now: Instant) {
        self.observe(now);
        let mut v = self.view();
        let Some(index) = v.server_index(server) else {
            return;
        };
        if v.tables
            .servers
            .get(index as usize)
            .is_some_and(|e| e.state == ServerState::Connecting)
        {
            v.start_handshake(index, now);
        }
    }

    /// The transport lost (or failed to open) the connection to `server`.
    pub fn handle_disconnected(&mut self, server: ServerId, now: Instant) {
        self.handle_lost(server, LostReason::Disconnected, &[], now);
    }

    /// The transport could not send to `server`. `unsent` names the requests whose transmits
    /// certainly did not leave, in the order they were taken from `poll_transmit`: they go out
    /// first, in that order, after the next handshake. Other requests in flight end
    /// `Disconnected`. Use `&[]` for a failed HANDSHAKE.
    pub fn handle_send_failed(&mut self, server: ServerId, unsent: &[RequestId], now: Instant) {
        self.handle_lost(server, LostReason::SendFailed, unsent, now);
    }

    /// The connection to `server` is gone for `reason` (what [`Event::ServerLost`](super::Event::ServerLost) will say).
    /// Like [`handle_send_failed`](Self::handle_send_failed), `unsent` names transmits the
    /// transport took but certainly never sent (for example still queued in the driver when the
    /// peer disconnected); they wait for the next handshake instead of ending `Disconnected`.
    pub fn handle_lost(
        &mut self,
        server: ServerId,
        reason: LostReason,
        unsent: &[RequestId],
        now: Instant,
    ) {
        self.observe(now);
        let mut v = self.view();
        let Some(index) = v.server_index(server) else {
            return;
        };
        // Back to the head of the send queue, last first so the first stays first: `lose`
        // below turns queued requests into waiting ones, oldest first, so they go out first
        // after the next handshake.
        for &id in unsent.iter().rev() {
            let Some(slot) = v.live_slot(id) else {
                continue;
            };
            let was_sent =
                v.tables.slots.get(slot as usize).is_some_and(|s| {
                    s.state == SlotState::Sent && u32::from(s.server.index) == index
                });
            if !was_sent {
                continue;
            }
            if let Some(entry) = v.tables.servers.get_mut(index as usize) {
                entry.sent.unlink(v.tables.slots, slot, slot_links);
                entry.queued.push_front(v.tables.slots, slot, slot_links);
            }
            if let Some(s) = v.tables.slots.get_mut(slot as usize) {
                s.state = SlotState::Queued;
            }
        }
        v.lose(index, reason, now);
    }

    /// The clock reached `now`: expire deadlines, resend handshakes, end backoffs. Harmless to
    /// call early or often.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.observe(now);
        let mut v = self.view();
        while let Some((index, deadline)) = v.state.deadlines.peek(v.tables.heap) {
            if deadline > now {
                break;
            }
            let sent = v
                .tables
                .slots
                .get(index as usize)
                .is_some_and(|s| s.state == SlotState::Sent);
            v.finish_later(index, Outcome::Timeout { sent });
        }
        if v.state.server_timer.is_some_and(|t| t <= now) {
            for index in 0..v.tables.servers.len() as u32 {
                let due = v
                    .tables
                    .servers
                    .get(index as usize)
                    .is_some_and(|e| e.in_use && e.timer.is_some_and(|t| t <= now));
                if due {
                    v.server_timer_fired(index, now);
                }
            }
        }
    }
}
