//! The pool's internals: one view over all tables and queues, and the small operations every
//! public method is made of. Each operation keeps the invariants below, so the public methods are
//! short compositions of them.
//!
//! Invariants (checked by the tests in `tests/`):
//! * a slot is in exactly one list, chosen by its state: `Free` → `free`, `Waiting` → its
//!   server's `waiting`, `Queued` → its server's `queued`, `Sent` → its server's `sent`,
//!   `Done` → `done`;
//! * a slot is in the deadline heap iff it is live (`Waiting`, `Queued`, `Sent`) and has a
//!   deadline;
//! * a server is in `tx_servers` iff it has a due handshake, or a non-empty `queued` list and
//!   fewer than `Config::max_in_flight_per_server` requests `sent`; and in `event_servers` iff
//!   it has pending notifications;
//! * `server_timer` is the minimum of all server timers;
//! * `rng` advances only in `lose`: one draw per loss that starts a backoff, and only with
//!   `Config::backoff_jitter` (so a run replays exactly from the nonce and the inputs).

use super::deadlines::DeadlineHeap;
use super::event::{Completion, LostReason, Outcome};
use super::handles::{FanoutId, RequestId, ServerId, ThingId};
use super::list::{Links, List};
use super::memory::{pending, Parts, ServerEntry, ServerState, Slot, SlotState};
use super::stats::Stats;
use super::Config;
use crate::time::Instant;
use crate::SplitMix64;

/// Queues and counters that live beside the tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub free: List,
    pub done: List,
    pub free_fanouts: List,
    pub done_fanouts: List,
    pub tx_servers: List,
    pub event_servers: List,
    pub deadlines: DeadlineHeap,
    pub server_timer: Option<Instant>,
    pub handshake_counter: u32,
    pub live: u32,
    pub stats: Stats,
    /// The latest `now` given to any command or input (outputs take no time argument).
    pub now: Instant,
    /// Reconnect jitter, seeded from the pool's nonce; drawn once per loss.
    pub rng: SplitMix64,
}

/// Everything an operation may touch.
pub(crate) struct View<'a, R> {
    /// The memory's tables: slots, servers, Things, fan-outs, the deadline heap.
    pub tables: Parts<'a, R>,
    /// The pool's plain state: queues, counters, the clock as last seen.
    pub state: &'a mut State,
    pub config: &'a Config,
}

pub(crate) fn slot_links<R>(slot: &mut Slot<R>) -> &mut Links {
    &mut slot.links
}

pub(crate) fn tx_links(server: &mut ServerEntry) -> &mut Links {
    &mut server.tx_links
}

pub(crate) fn event_links(server: &mut ServerEntry) -> &mut Links {
    &mut server.event_links
}

pub(crate) fn fanout_links(f: &mut super::memory::FanoutEntry) -> &mut Links {
    &mut f.links
}

impl<R> View<'_, R> {
    // ----- lookups -------------------------------------------------------------------------

    /// Index of a live server handle.
    pub fn server_index(&self, id: ServerId) -> Option<u32> {
        let entry = self.tables.servers.get(usize::from(id.index))?;
        (entry.in_use && entry.generation == id.generation).then_some(u32::from(id.index))
    }

    /// Index of a live request handle.
    pub fn live_slot(&self, id: RequestId) -> Option<u32> {
        let slot = self.tables.slots.get(id.slot as usize)?;
        let live = matches!(
            slot.state,
            SlotState::Waiting | SlotState::Queued | SlotState::Sent
        );
        (live && slot.generation == id.generation).then_some(id.slot)
    }

    pub fn server_id_at(&self, index: u32) -> ServerId {
        let generation = self
            .tables
            .servers
            .get(index as usize)
            .map_or(0, |s| s.generation);
        ServerId {
            index: index as u16,
            generation,
        }
    }

    // ----- request lifecycle ---------------------------------------------------------------

    /// Takes a free slot; the caller then fills it with [`Self::fill`] and places it with
    /// [`Self::enqueue`].
    pub fn allocate(&mut self) -> Option<u32> {
        self.state.free.pop_front(self.tables.slots, slot_links)
    }

    /// Makes an allocated slot a live request.
    pub fn fill(
        &mut self,
        index: u32,
        server: ServerId,
        thing: ThingId,
        fanout: Option<FanoutId>,
        options: super::RequestOptions,
        user: R,
    ) {
        let Some(slot) = self.tables.slots.get_mut(index as usize) else {
            return;
        };
        slot.server = server;
        slot.thing = thing;
        slot.fanout = fanout;
        slot.oneway = options.oneway;
        slot.deadline = options.deadline;
        slot.user = Some(user);
        self.state.live += 1;
        self.state.stats.started = self.state.stats.started.wrapping_add(1);
    }

    /// Puts a freshly allocated slot where it belongs: queued if its server is ready, waiting
    /// otherwise; and arms its deadline.
    pub fn enqueue(&mut self, index: u32) {
        let Some(slot) = self.tables.slots.get(index as usize) else {
            return;
        };
        let server = u32::from(slot.server.index);
        let has_deadline = slot.deadline.is_some();
        if has_deadline {
            self.state
                .deadlines
                .push(self.tables.heap, self.tables.slots, index);
        }
        let ready = self
            .tables
            .servers
            .get(server as usize)
            .is_some_and(|s| s.state == ServerState::Ready);
        self.place(
            index,
            server,
            if ready {
                SlotState::Queued
            } else {
                SlotState::Waiting
            },
        );
    }

    /// Links a slot into its server's list for `state`.
    fn place(&mut self, index: u32, server: u32, state: SlotState) {
        if let Some(slot) = self.tables.slots.get_mut(index as usize) {
            slot.state = state;
        }
        let Some(entry) = self.tables.servers.get_mut(server as usize) else {
            return;
        };
        match state {
            SlotState::Waiting => entry
                .waiting
                .push_back(self.tables.slots, index, slot_links),
            SlotState::Queued => {
                entry.queued.push_back(self.tables.slots, index, slot_links);
                self.want_tx(server);
            }
            SlotState::Sent => entry.sent.push_back(self.tables.slots, index, slot_links),
            SlotState::Free | SlotState::Done(_) => {}
        }
    }

    /// Unlinks a live slot from its server's list and from the deadline heap.
    fn detach(&mut self, index: u32) {
        let Some(slot) = self.tables.slots.get(index as usize) else {
            return;
        };
        let state = slot.state;
        let server = usize::from(slot.server.index);
        self.state
            .deadlines
            .remove(self.tables.heap, self.tables.slots, index);
        if let Some(entry) = self.tables.servers.get_mut(server) {
            match state {
                SlotState::Waiting => entry.waiting.unlink(self.tables.slots, index, slot_links),
                SlotState::Queued => entry.queued.unlink(self.tables.slots, index, slot_links),
                SlotState::Sent => entry.sent.unlink(self.tables.slots, index, slot_links),
                SlotState::Free | SlotState::Done(_) => {}
            }
        }
        if state == SlotState::Sent {
            // A server held back at its in-flight limit may send again.
            self.want_tx(server as u32);
        }
    }

    /// Ends a live request with `outcome`, leaving it in the `done` list for `poll_event`.
    pub fn finish_later(&mut self, index: u32, outcome: Outcome) {
        self.detach(index);
        self.account(index, outcome);
        if let Some(slot) = self.tables.slots.get_mut(index as usize) {
            slot.state = SlotState::Done(outcome);
        }
        self.state
            .done
            .push_back(self.tables.slots, index, slot_links);
    }

    /// Ends a live request with `outcome` and hands its completion back at once.
    pub fn finish_now(&mut self, index: u32, outcome: Outcome) -> Option<Completion<R>> {
        self.detach(index);
        self.account(index, outcome);
        self.release(index, outcome)
    }

    /// Frees a slot (live or done) and builds its completion.
    pub fn release(&mut self, index: u32, outcome: Outcome) -> Option<Completion<R>> {
        let slot = self.tables.slots.get_mut(index as usize)?;
        let completion = Completion {
            id: RequestId {
                slot: index,
                generation: slot.generation,
            },
            server: slot.server,
            thing: slot.thing,
            fanout: slot.fanout.take(),
            outcome,
            user: slot.user.take()?,
        };
        slot.generation = slot.generation.wrapping_add(1);
        slot.state = SlotState::Free;
        slot.deadline = None;
        self.state
            .free
            .push_back(self.tables.slots, index, slot_links);
        Some(completion)
    }

    /// Bookkeeping shared by every ending: counters and fan-out progress.
    fn account(&mut self, index: u32, outcome: Outcome) {
        self.state.live = self.state.live.saturating_sub(1);
        let stats = &mut self.state.stats;
        stats.ended = stats.ended.wrapping_add(1);
        let counter = match outcome {
            Outcome::Reply => &mut stats.replies,
            Outcome::Exception => &mut stats.exceptions,
            Outcome::InvalidMessage => &mut stats.invalid_messages,
            Outcome::ServerTimeout(_) => &mut stats.server_timeouts,
            Outcome::Timeout { .. } => &mut stats.timeouts,
            Outcome::Cancelled => &mut stats.cancelled,
            Outcome::Disconnected => &mut stats.disconnected,
            Outcome::Closed => &mut stats.closed,
            Outcome::Sent => &mut stats.oneway_sent,
            Outcome::Unsendable => &mut stats.unsendable,
        };
        *counter = counter.wrapping_add(1);
        let fanout = self.tables.slots.get(index as usize).and_then(|s| s.fanout);
        if let Some(id) = fanout {
            self.fanout_member_done(id);
        }
    }

    fn fanout_member_done(&mut self, id: FanoutId) {
        let Some(entry) = self.tables.fanouts.get_mut(id.index as usize) else {
            return;
        };
        if !entry.in_use || entry.generation != id.generation || entry.remaining == 0 {
            return;
        }
        entry.remaining -= 1;
        if entry.remaining == 0 {
            self.state
                .done_fanouts
                .push_back(self.tables.fanouts, id.index, fanout_links);
        }
    }

    // ----- servers ---------------------------------------------------------------------------

    /// Whether `entry` has something it may send now.
    fn has_tx_work(&self, entry: &ServerEntry) -> bool {
        entry.handshake_due
            || (!entry.queued.is_empty()
                && entry.sent.len() < self.config.effective_max_in_flight_per_server())
    }

    /// Puts `server` in the transmit rotation if it has something it may send now.
    pub fn want_tx(&mut self, server: u32) {
        let Some(entry) = self.tables.servers.get(server as usize) else {
            return;
        };
        if !self.has_tx_work(entry) {
            return;
        }
        let Some(entry) = self.tables.servers.get_mut(server as usize) else {
            return;
        };
        if !entry.in_tx {
            entry.in_tx = true;
            self.state
                .tx_servers
                .push_back(self.tables.servers, server, tx_links);
        }
    }

    /// Takes `server` out of the transmit rotation, or moves it to the back if it has more.
    pub fn rotate_tx(&mut self, server: u32) {
        let Some(entry) = self.tables.servers.get(server as usize) else {
            return;
        };
        let more = self.has_tx_work(entry);
        if entry.in_tx {
            self.state
                .tx_servers
                .unlink(self.tables.servers, server, tx_links);
        }
        if let Some(entry) = self.tables.servers.get_mut(server as usize) {
            entry.in_tx = false;
        }
        if more {
            self.want_tx(server);
        }
    }

    /// Records a notification for `server` (see [`pending`] for the order they come out in).
    pub fn notify(&mut self, server: u32, bit: u8) {
        let Some(entry) = self.tables.servers.get_mut(server as usize) else {
            return;
        };
        // Membership in `event_servers` follows `pending != 0`: read it before any bit changes.
        let was_listed = entry.pending != 0;
        match bit {
            // A loss makes an unreported readiness or connect request stale.
            pending::LOST => entry.pending &= !(pending::READY | pending::CONNECT),
            // A fresh connect request supersedes an unreported readiness.
            pending::CONNECT => entry.pending &= !pending::READY,
            _ => {}
        }
        entry.pending |= bit;
        if !was_listed {
            self.state
                .event_servers
                .push_back(self.tables.servers, server, event_links);
        }
    }

    /// Sets one server's timer and refreshes the minimum over all servers.
    pub fn set_server_timer(&mut self, server: u32, timer: Option<Instant>) {
        if let Some(entry) = self.tables.servers.get_mut(server as usize) {
            entry.timer = timer;
        }
        self.state.server_timer = self
            .tables
            .servers
            .iter()
            .filter(|s| s.in_use)
            .filter_map(|s| s.timer)
            .min();
    }

    /// The transport connected: start handshaking.
    pub fn start_handshake(&mut self, server: u32, now: Instant) {
        if let Some(entry) = self.tables.servers.get_mut(server as usize) {
            entry.state = ServerState::Handshaking { since: now };
        }
        self.queue_handshake(server, now);
    }

    fn queue_handshake(&mut self, server: u32, now: Instant) {
        if let Some(entry) = self.tables.servers.get_mut(server as usize) {
            entry.handshake_due = true;
        }
        self.want_tx(server);
        // Wake for the next resend, or for the handshake timeout if that comes first.
        let mut next = now + self.config.effective_handshake_interval();
        let since = match self.tables.servers.get(server as usize).map(|e| e.state) {
            Some(ServerState::Handshaking { since }) => since,
            _ => now,
        };
        if let Some(limit) = self.config.handshake_timeout {
            next = next.min(since + limit);
        }
        self.set_server_timer(server, Some(next));
    }

    /// A HANDSHAKE reply arrived while handshaking: the server is ready.
    pub fn become_ready(&mut self, server: u32, now: Instant) {
        let Some(entry) = self.tables.servers.get_mut(server as usize) else {
            return;
        };
        entry.state = ServerState::Ready;
        entry.attempt = 0;
        entry.handshake_due = false;
        entry.heard = now;
        entry.probing = None;
        // Requests that waited go out now, oldest first.
        let mut waiting = core::mem::take(&mut entry.waiting);
        self.relabel(&waiting, SlotState::Queued);
        if let Some(entry) = self.tables.servers.get_mut(server as usize) {
            entry
                .queued
                .append(&mut waiting, self.tables.slots, slot_links);
        }
        self.rotate_tx(server);
        let liveness = self.config.liveness_interval.map(|interval| now + interval);
        self.set_server_timer(server, liveness);
        self.notify(server, pending::READY);
    }

    /// Sets the state of every slot of `list`, when a whole list changes phase at once.
    fn relabel(&mut self, list: &List, state: SlotState) {
        let mut cursor = list.front();
        while let Some(index) = cursor {
            cursor = List::next_of(self.tables.slots, index, |s| &s.links);
            if let Some(slot) = self.tables.slots.get_mut(index as usize) {
                slot.state = state;
            }
        }
    }

    /// The server is gone: fail what was in flight, keep what was not sent, back off.
    pub fn lose(&mut self, server: u32, reason: LostReason, now: Instant) {
        let Some(entry) = self.tables.servers.get_mut(server as usize) else {
            return;
        };
        if matches!(entry.state, ServerState::Backoff { .. }) {
            return;
        }
        entry.handshake_due = false;
        // Requests not yet handed to the transport are safe to send after the next handshake.
        let mut queued = core::mem::take(&mut entry.queued);
        self.relabel(&queued, SlotState::Waiting);
        if let Some(entry) = self.tables.servers.get_mut(server as usize) {
            queued.append(&mut entry.waiting, self.tables.slots, slot_links);
            entry.waiting = queued;
        }
        // Requests in flight can never be answered by this connection: fail them now and never
        // resend them (the server may have executed them).
        loop {
            let front = self
                .tables
                .servers
                .get(server as usize)
                .and_then(|e| e.sent.front());
            let Some(index) = front else { break };
            self.finish_later(index, Outcome::Disconnected);
        }
        let Some(entry) = self.tables.servers.get_mut(server as usize) else {
            return;
        };
        let until = now
            + self
                .config
                .reconnect_delay(entry.attempt, &mut self.state.rng);
        entry.attempt = entry.attempt.saturating_add(1);
        entry.state = ServerState::Backoff { until };
        entry.lost_reason = reason;
        self.state.stats.servers_lost = self.state.stats.servers_lost.wrapping_add(1);
        self.rotate_tx(server);
        self.set_server_timer(server, Some(until));
        self.notify(server, pending::LOST);
    }

    /// A server timer fired.
    pub fn server_timer_fired(&mut self, server: u32, now: Instant) {
        let Some(entry) = self.tables.servers.get(server as usize) else {
            return;
        };
        match entry.state {
            ServerState::Handshaking { since } => {
                let expired = self
                    .config
                    .handshake_timeout
                    .is_some_and(|limit| now.saturating_since(since) >= limit);
                if expired {
                    self.lose(server, LostReason::HandshakeTimeout, now);
                } else {
                    self.queue_handshake(server, now);
                }
            }
            ServerState::Backoff { .. } => {
                if let Some(entry) = self.tables.servers.get_mut(server as usize) {
                    entry.state = ServerState::Connecting;
                }
                self.set_server_timer(server, None);
                self.notify(server, pending::CONNECT);
            }
            ServerState::Ready => self.check_liveness(server, now),
            ServerState::Connecting => self.set_server_timer(server, None),
        }
    }

    /// The liveness timer of a ready server fired. The timer may be early: anything heard
    /// since it was armed only moved `heard` (no timer work per message), so the due time is
    /// worked out here. Requests in flight change nothing: a busy server that has gone quiet is
    /// probed like an idle one (a request without a deadline would otherwise wait forever on a
    /// frozen or half-open server), and one that keeps replying is never probed.
    fn check_liveness(&mut self, server: u32, now: Instant) {
        let Some(interval) = self.config.liveness_interval else {
            self.set_server_timer(server, None);
            return;
        };
        let timeout = self.config.liveness_timeout;
        let Some(entry) = self.tables.servers.get_mut(server as usize) else {
            return;
        };
        let next = if let Some(since) = entry.probing {
            if now.saturating_since(since) >= timeout {
                self.lose(server, LostReason::Unresponsive, now);
                return;
            }
            since + timeout
        } else if now.saturating_since(entry.heard) >= interval {
            entry.probing = Some(now);
            entry.handshake_due = true;
            self.state.stats.liveness_probes = self.state.stats.liveness_probes.wrapping_add(1);
            self.want_tx(server);
            now + timeout
        } else {
            entry.heard + interval
        };
        self.set_server_timer(server, Some(next));
    }
}
