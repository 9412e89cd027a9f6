//! Carrying out the core's outputs, per its polling contract: transmits to their servers'
//! outboxes, events (connections to open and close, outcomes to their waiters), the timer.
//!
//! Invariants:
//! * it runs with the lock held, at the end of every input, so nothing the core says waits
//!   for another input;
//! * events never create transmits, so one pass over each output is all a drain needs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use zeromq::ZmqMessage;

use super::records::{close_link, describe_loss, is_ready};
use super::{Engine, State, HEADER_ARENA};
use crate::connection::{self, Link};
use crate::health::Watched;
use crate::outcome::{self, ServerFacts};
use crate::request::Job;
use crate::Runtime;
use pool_core::pool::{Completion, Event, LostReason, RequestId, ServerId, TransmitKind};
use pool_core::wire::NULL_PAYLOAD;

impl<Rt: Runtime> Engine<Rt> {
    /// Carries out everything the core has to say, per its polling contract: transmits, then
    /// events, then the timer. Events never create transmits, so one pass of each is all.
    pub(super) fn drain(self: &Arc<Self>, state: &mut State) {
        self.route_transmits(state);
        let mut readiness_changed = false;
        while let Some(event) = state.core.poll_event() {
            match event {
                Event::Connect(server) => self.open_link(state, server),
                Event::ServerReady(server) => {
                    if let Some(slot) = state.servers.get_mut(&server) {
                        slot.health
                            .report_up(Watched::Server, &slot.name, &slot.endpoint);
                        slot.last_error = None;
                    }
                    readiness_changed = true;
                }
                Event::ServerLost(server, reason) => {
                    let detail = state
                        .loss_detail
                        .take()
                        .unwrap_or_else(|| describe_loss(reason).into());
                    if let Some(slot) = state.servers.get_mut(&server) {
                        let (name, endpoint) = (&slot.name, &slot.endpoint);
                        slot.health
                            .report_failure(Watched::Server, name, endpoint, &detail);
                        slot.last_error = Some(detail);
                    }
                    close_link(state, server);
                    readiness_changed = true;
                }
                Event::Completed(done) => self.complete(state, done, Vec::new()),
                Event::FanoutDone(_) => {}
            }
        }
        if state.freed > 0 {
            self.slots_freed.notify(std::mem::take(&mut state.freed));
        }
        if readiness_changed {
            self.readiness.notify(usize::MAX);
        }
        self.rearm_timer(state);
    }

    fn route_transmits(&self, state: &mut State) {
        let State {
            core,
            servers,
            header_buf,
            header_arena,
            ..
        } = state;
        let mut orphans: Vec<(ServerId, Option<RequestId>)> = Vec::new();
        while let Some(tx) = core.poll_transmit(header_buf) {
            if header_arena.capacity() < tx.header.len() {
                header_arena.reserve(HEADER_ARENA.max(tx.header.len()));
            }
            header_arena.extend_from_slice(tx.header);
            let header = header_arena.split().freeze();
            let (request, payload, preserialized) = match tx.kind {
                TransmitKind::Handshake => (None, Bytes::from_static(NULL_PAYLOAD), Bytes::new()),
                TransmitKind::Request { id, user } => (
                    Some(id),
                    user.request.payload.clone(),
                    user.request.preserialized.clone(),
                ),
            };
            let frames = vec![Bytes::new(), header, payload, preserialized];
            // Only an empty frame list is refused, and this one has four.
            let Ok(message) = ZmqMessage::try_from(frames) else {
                orphans.push((tx.server, request));
                continue;
            };
            let Some(link) = servers.get_mut(&tx.server).and_then(|s| s.link.as_mut()) else {
                orphans.push((tx.server, request));
                continue;
            };
            match link.try_send_now(message) {
                Ok(()) if request.is_some() => self.counters.requests_written.add(1),
                Ok(()) => {}
                Err(message) => {
                    link.outbox.push_back((request, message));
                    link.wake.raise();
                }
            }
        }
        // The core only transmits to a connected server, so its link exists; if it does not (a
        // bug), the request must still end: report the server lost, the request unsent. The
        // drain's event loop carries out what this reports.
        for (server, request) in orphans {
            tracing::error!(?server, "transmit for a server without a connection");
            let unsent: Vec<RequestId> = request.into_iter().collect();
            core.handle_lost(server, LostReason::SendFailed, &unsent, self.now());
        }
    }

    /// Hands a finished request's result to its waiter.
    pub(super) fn complete(&self, state: &mut State, done: Completion<Job>, frames: Vec<Bytes>) {
        state.freed += 1;
        let message_id = state.core.message_id(done.id);
        let server = done.server;
        let facts = || {
            let slot = state.servers.get(&server);
            ServerFacts {
                endpoint: slot.map_or_else(|| Arc::from(""), |s| Arc::clone(&s.endpoint)),
                ready: is_ready(&state.core, server),
                last_error: slot.and_then(|s| s.last_error.clone()),
            }
        };
        outcome::deliver(
            done,
            message_id,
            frames,
            facts,
            state.core.config().max_header_len,
        );
    }

    fn rearm_timer(&self, state: &mut State) {
        let next = state.core.poll_timeout();
        let earlier = match (next, state.timer_at) {
            (Some(next), Some(armed)) => next < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            state.timer_at = next;
            self.timer.raise();
        }
    }

    /// Starts a connection task for `server` (after [`Event::Connect`]).
    fn open_link(self: &Arc<Self>, state: &mut State, server: ServerId) {
        let Some(slot) = state.servers.get_mut(&server) else {
            return;
        };
        slot.epochs += 1;
        let link = Link::new(slot.epochs);
        let target = link.target(server, &slot.name, &slot.endpoint);
        let alive = Arc::clone(&link.alive);
        slot.link = Some(link);
        self.counters.connects.add(1);
        self.spawn_task(alive, connection::run(Arc::clone(self), target));
    }

    /// Spawns a background task that the pool waits for on shutdown; `alive` is cleared when
    /// it ends.
    pub(super) fn spawn_task<F>(self: &Arc<Self>, alive: Arc<AtomicBool>, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.live_tasks.fetch_add(1, Ordering::AcqRel);
        let guard = TaskGuard {
            engine: Arc::clone(self),
            alive,
        };
        self.rt.spawn(async move {
            task.await;
            drop(guard);
        });
    }
}

/// Decrements the live-task count when a background task ends (or is dropped by its runtime).
struct TaskGuard<Rt: Runtime> {
    engine: Arc<Engine<Rt>>,
    alive: Arc<AtomicBool>,
}

impl<Rt: Runtime> Drop for TaskGuard<Rt> {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
        self.engine.live_tasks.fetch_sub(1, Ordering::AcqRel);
        self.engine.task_ended.notify(usize::MAX);
    }
}
