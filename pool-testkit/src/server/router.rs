//! The router thread: the only user of the ROUTER socket.
//!
//! Invariants:
//! * every message received is sorted by [`classify`]; HANDSHAKE and refusals are answered here,
//!   operations go to their Thing's [`WorkerQueue`], `EXIT` (or the handle's stop signal, or a
//!   failed poll) ends the thread;
//! * every reply, whether made here, by a worker (through the inbox) or by a timer, goes out
//!   through [`RouterThread::reply`], which applies the current [`Behaviour`]; the behaviour is
//!   read again for each request and each reply, so a change applies from the next one on;
//! * a request is read from the ROUTER at most 256 at a time before the inbox and the timers get
//!   their turn, so a flood of requests does not starve replies;
//! * when the thread ends it marks the server not alive and stops every worker queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::hostile::{Hostile, Step};
use super::worker::{from_inbox, Job, JobStatus, WorkerQueue};
use super::Shared;
use crate::config::{Behaviour, HostileConfig, HostileKind};
use crate::handling::{classify, Inbound, OutReply, INVOKATION_TIMEOUT};
use crate::lock::lock;
use crate::protocol::{self, RequestHeader};
use crate::timers::Timers;

/// What a router timer does when it is due.
enum TimerEvent {
    /// A job's invokation timeout: its `TIMEOUT` `"invokation"` is sent if it still waits.
    Invokation { status: JobStatus, reply: OutReply },
    /// A delayed reply.
    Send(OutReply),
}

/// Whether the loop goes on.
enum Flow {
    Continue,
    Exit,
}

pub(super) struct RouterThread {
    shared: Arc<Shared>,
    router: zmq::Socket,
    /// Bound to [`super::worker::INBOX`]: workers' replies and the stop signal.
    inbox: zmq::Socket,
    queues: HashMap<String, Arc<WorkerQueue>>,
    alive: Arc<AtomicBool>,
    timers: Timers<TimerEvent>,
    behaviour_generation: u64,
    behaviour: Behaviour,
    hostile: Hostile,
}

impl RouterThread {
    pub(super) fn new(
        shared: Arc<Shared>,
        router: zmq::Socket,
        inbox: zmq::Socket,
        queues: HashMap<String, Arc<WorkerQueue>>,
        alive: Arc<AtomicBool>,
    ) -> RouterThread {
        RouterThread {
            shared,
            router,
            inbox,
            queues,
            alive,
            timers: Timers::default(),
            behaviour_generation: u64::MAX,
            behaviour: Behaviour::Normal,
            hostile: Hostile::default(),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let timeout = self.timers.poll_timeout_ms();
            let (router_ready, inbox_ready) = {
                let mut items = [
                    self.router.as_poll_item(zmq::POLLIN),
                    self.inbox.as_poll_item(zmq::POLLIN),
                ];
                if zmq::poll(&mut items, timeout).is_err() {
                    break;
                }
                (items[0].is_readable(), items[1].is_readable())
            };
            if inbox_ready && matches!(self.drain_inbox(), Flow::Exit) {
                break;
            }
            if router_ready && matches!(self.drain_router(), Flow::Exit) {
                break;
            }
            self.fire_timers();
        }
        self.alive.store(false, Ordering::SeqCst);
        for queue in self.queues.values() {
            queue.stop();
        }
        // Sockets close (linger 0) when `self` drops here.
    }

    fn drain_inbox(&mut self) -> Flow {
        loop {
            let frames = match self.inbox.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(_) => return Flow::Continue,
            };
            match from_inbox(frames) {
                Some(reply) => self.reply(reply),
                None => return Flow::Exit,
            }
        }
    }

    fn drain_router(&mut self) -> Flow {
        // Bounded so that inbox replies and timers are not starved by a request flood.
        for _ in 0..256 {
            let frames = match self.router.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(_) => return Flow::Continue,
            };
            if let Flow::Exit = self.handle_request(frames) {
                return Flow::Exit;
            }
        }
        Flow::Continue
    }

    fn current_behaviour(&mut self) -> &Behaviour {
        let slot = lock(&self.shared.behaviour);
        if slot.0 != self.behaviour_generation {
            self.behaviour_generation = slot.0;
            self.behaviour = slot.1.clone();
            if let Behaviour::Hostile(cfg) = &self.behaviour {
                self.hostile.reseed(cfg.seed);
            }
        }
        drop(slot);
        &self.behaviour
    }

    fn handle_request(&mut self, frames: Vec<Vec<u8>>) -> Flow {
        let inbound = classify(frames, &mut self.shared.stats());
        let op = match inbound {
            Inbound::Dropped => return Flow::Continue,
            Inbound::Exit => return Flow::Exit,
            Inbound::Immediate {
                message_type,
                header,
                payload,
            } => {
                self.send_simple(message_type, &header, payload);
                return Flow::Continue;
            }
            Inbound::Operation(op) => op,
        };
        if let Behaviour::NeverReply { .. } = self.current_behaviour() {
            return Flow::Continue;
        }
        let queue = match op.admit(|id| self.queues.get(id).cloned()) {
            Ok(queue) => queue,
            Err((message_type, payload)) => {
                self.send_simple(message_type, &op.header, payload);
                return Flow::Continue;
            }
        };
        let status = JobStatus::default();
        if let Some(limit) = op.header.context.invokation_timeout {
            let reply = OutReply::timeout(&op.header, &self.shared.server_id, INVOKATION_TIMEOUT);
            self.timers.add(
                Instant::now() + limit,
                TimerEvent::Invokation {
                    status: status.clone(),
                    reply,
                },
            );
        }
        queue.push(Job { op, status });
        Flow::Continue
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some((_, event)) = self.timers.pop_due(now) {
            match event {
                TimerEvent::Invokation { status, reply } => {
                    if status.time_out() {
                        self.reply(reply);
                    }
                }
                TimerEvent::Send(reply) => self.send_now(&reply),
            }
        }
    }

    /// Answers `request` with `message_type` and `payload`, according to the behaviour.
    fn send_simple(&mut self, message_type: &str, request: &RequestHeader, payload: Vec<u8>) {
        let reply = OutReply::answer(request, &self.shared.server_id, message_type, payload);
        self.reply(reply);
    }

    /// Sends a protocol reply according to the current behaviour.
    fn reply(&mut self, reply: OutReply) {
        match self.current_behaviour().clone() {
            Behaviour::Normal => self.send_now(&reply),
            Behaviour::Delay(d) if d.is_zero() => self.send_now(&reply),
            Behaviour::Delay(d) => self.timers.add(Instant::now() + d, TimerEvent::Send(reply)),
            Behaviour::NeverReply { answer_handshake } => {
                if answer_handshake && reply.message_type == protocol::HANDSHAKE {
                    self.send_now(&reply);
                }
            }
            Behaviour::Hostile(cfg) => self.send_hostile(&cfg, reply),
        }
    }

    fn send_now(&self, reply: &OutReply) {
        reply.send(&self.router, &mut self.shared.stats());
    }

    /// Carries out [`Hostile::replies`] for `reply`.
    fn send_hostile(&mut self, cfg: &HostileConfig, reply: OutReply) {
        for step in self.hostile.replies(cfg, reply, &self.shared.server_id) {
            match step {
                // ROUTER without ROUTER_MANDATORY never blocks: unknown peers and full queues drop.
                Step::Frames(frames) => {
                    let _ = self.router.send_multipart(frames, zmq::DONTWAIT);
                }
                Step::Good(reply) => self.send_now(&reply),
                Step::Count(kind) => self.count_hostile(kind),
            }
        }
    }

    fn count_hostile(&self, kind: HostileKind) {
        *self.shared.stats().hostile_sent.entry(kind).or_default() += 1;
    }
}
