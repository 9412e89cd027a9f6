//! The server handle and its threads: one router thread owning the ROUTER socket and one worker
//! thread per Thing.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Behaviour, HostileConfig, HostileKind, ServerConfig};
use crate::endpoints::{open_router, Endpoints};
use crate::handling::{classify, Inbound, Operation, OutReply, Schedule};
use crate::protocol::{self, response_header, RequestHeader, JSON_CONTENT_TYPE, TEXT_PLAIN};
use crate::thing::Thing;
use crate::timers::Timers;
use crate::{Error, Stats};

const INBOX: &str = "inproc://pool-testkit-inbox";
const HISTORY_PER_CLIENT: usize = 32;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const INVOKATION_TIMED_OUT: u8 = 2;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the handle and the threads of every run.
struct Shared {
    server_id: String,
    stats: Mutex<Stats>,
    behaviour: Mutex<(u64, Behaviour)>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }
}

/// A hololinked-compatible fake server on a libzmq ROUTER socket.
///
/// It runs on its own threads until [`TestServer::stop`], [`TestServer::kill`], an `EXIT` request
/// or drop. Property values live in the Thing worker threads, so a restart resets them to their
/// defaults (as restarting a real server process does); [`Stats`] are kept across restarts.
pub struct TestServer {
    config: ServerConfig,
    /// Concrete endpoints (tcp ports resolved), in `config.transports` order.
    bound: Endpoints,
    shared: Arc<Shared>,
    running: Option<Running>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("server_id", &self.config.server_id)
            .field("thing_ids", &self.config.thing_ids)
            .field("endpoints", &self.bound.endpoints)
            .field("running", &self.is_running())
            .finish()
    }
}

impl TestServer {
    /// Binds the configured endpoints and starts the server threads.
    pub fn start(config: ServerConfig) -> Result<TestServer, Error> {
        config.validate()?;
        let bound = Endpoints::of(&config)?;
        let shared = Arc::new(Shared {
            server_id: config.server_id.clone(),
            stats: Mutex::new(Stats::default()),
            behaviour: Mutex::new((0, config.behaviour.clone())),
        });
        let mut server = TestServer {
            config,
            bound,
            shared,
            running: None,
        };
        server.launch()?;
        Ok(server)
    }

    fn launch(&mut self) -> Result<(), Error> {
        let ctx = zmq::Context::new();
        let router = open_router(&ctx, &self.config, &mut self.bound.endpoints)?;
        let inbox = ctx.socket(zmq::PULL)?;
        inbox.set_linger(0)?;
        inbox.set_rcvhwm(0)?;
        inbox.bind(INBOX)?;
        let control = ctx.socket(zmq::PUSH)?;
        control.set_linger(0)?;
        control.set_sndhwm(0)?;
        control.connect(INBOX)?;

        let alive = Arc::new(AtomicBool::new(true));
        let mut workers = Vec::new();
        let mut queues = HashMap::new();
        for thing_id in &self.config.thing_ids {
            let push = ctx.socket(zmq::PUSH)?;
            push.set_linger(0)?;
            push.set_sndhwm(0)?;
            push.connect(INBOX)?;
            let queue = Arc::new(WorkerQueue::default());
            let worker = Worker {
                thing: Thing::new(thing_id.clone()),
                server_id: self.config.server_id.clone(),
                queue: queue.clone(),
                push,
            };
            let handle = std::thread::Builder::new()
                .name(format!("testkit-thing-{thing_id}"))
                .spawn(move || worker.run())?;
            queues.insert(thing_id.clone(), queue.clone());
            workers.push((queue, handle));
        }
        let router_thread = RouterThread {
            shared: self.shared.clone(),
            router,
            inbox,
            queues,
            alive: alive.clone(),
            timers: Timers::default(),
            behaviour_generation: u64::MAX,
            behaviour: Behaviour::Normal,
            rng: SplitMix64(0),
            history: HashMap::new(),
        };
        let router_handle = match std::thread::Builder::new()
            .name(format!("testkit-router-{}", self.config.server_id))
            .spawn(move || router_thread.run())
        {
            Ok(h) => h,
            Err(e) => {
                for (queue, handle) in workers {
                    queue.stop();
                    let _ = handle.join();
                }
                return Err(e.into());
            }
        };
        self.running = Some(Running {
            control: Mutex::new(Some(control)),
            router: Some(router_handle),
            workers,
            alive,
            ctx: Some(ctx),
        });
        Ok(())
    }

    /// The server id (ROUTER identity).
    pub fn server_id(&self) -> &str {
        &self.config.server_id
    }

    /// The Thing ids served.
    pub fn thing_ids(&self) -> &[String] {
        &self.config.thing_ids
    }

    /// The configuration the server was started with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Every bound endpoint, with concrete tcp ports (e.g. `tcp://127.0.0.1:40123`).
    pub fn endpoints(&self) -> &[String] {
        &self.bound.endpoints
    }

    /// The first tcp endpoint, if any.
    pub fn tcp_endpoint(&self) -> Option<&str> {
        self.bound
            .endpoints
            .iter()
            .find(|e| e.starts_with("tcp://"))
            .map(String::as_str)
    }

    /// The ipc endpoint, if any.
    pub fn ipc_endpoint(&self) -> Option<&str> {
        self.bound
            .endpoints
            .iter()
            .find(|e| e.starts_with("ipc://"))
            .map(String::as_str)
    }

    /// The filesystem path of the ipc socket, if any.
    pub fn ipc_path(&self) -> Option<&Path> {
        self.bound.ipc_path.as_deref()
    }

    /// Whether the server threads are running (false after stop, kill or an `EXIT` request).
    pub fn is_running(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.alive.load(Ordering::SeqCst))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats().clone()
    }

    /// Resets the counters to zero.
    pub fn reset_stats(&self) {
        *self.shared.stats() = Stats::default();
    }

    /// The current behaviour.
    pub fn behaviour(&self) -> Behaviour {
        lock(&self.shared.behaviour).1.clone()
    }

    /// Changes the behaviour; it applies to every reply sent from now on (a hostile PRNG is
    /// reseeded from the new config).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let mut slot = lock(&self.shared.behaviour);
        slot.0 = slot.0.wrapping_add(1);
        slot.1 = behaviour;
    }

    /// Stops the threads promptly (in-flight jobs are abandoned, unanswered) and removes the ipc
    /// socket file. The server can be brought back with [`TestServer::restart`].
    pub fn stop(&mut self) {
        self.shutdown();
        if let Some(path) = &self.bound.ipc_path {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Closes the sockets abruptly, as a process death would look to clients: connected peers see
    /// a disconnect and in-flight requests are never answered. The ipc file is left to libzmq, as
    /// after a crash. Use [`TestServer::restart`] to bring the server back on the same endpoints.
    pub fn kill(&mut self) {
        self.shutdown();
    }

    /// Starts the server again on the same endpoints (same tcp port, same ipc path) with fresh
    /// Things, killing it first if it is running.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.shutdown();
        // A just-closed TCP listener can take a moment to release the port.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(Error::Bind { source, .. })
                    if source == zmq::Error::EADDRINUSE && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
        self.bound.remove_ipc();
    }
}

/// The threads and sockets of one run.
struct Running {
    control: Mutex<Option<zmq::Socket>>,
    router: Option<JoinHandle<()>>,
    workers: Vec<(Arc<WorkerQueue>, JoinHandle<()>)>,
    alive: Arc<AtomicBool>,
    ctx: Option<zmq::Context>,
}

impl Running {
    fn shutdown(mut self) {
        if let Some(control) = lock(&self.control).take() {
            let _ = control.send("S", zmq::DONTWAIT);
        }
        if let Some(router) = self.router.take() {
            let _ = router.join();
        }
        for (queue, _) in &self.workers {
            queue.stop();
        }
        for (_, handle) in self.workers.drain(..) {
            let _ = handle.join();
        }
        self.alive.store(false, Ordering::SeqCst);
        // Every socket is closed by now, so terminating the context does not block.
        drop(self.ctx.take());
    }
}

struct Job {
    op: Operation,
    status: Arc<AtomicU8>,
}

#[derive(Default)]
struct WorkerQueue {
    state: Mutex<QueueState>,
    cv: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    stop: bool,
}

impl WorkerQueue {
    fn push(&self, job: Job) {
        lock(&self.state).jobs.push_back(job);
        self.cv.notify_all();
    }

    fn stop(&self) {
        lock(&self.state).stop = true;
        self.cv.notify_all();
    }

    /// Next job, or `None` when stopped.
    fn pop(&self) -> Option<Job> {
        let mut state = lock(&self.state);
        loop {
            if state.stop {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            state = self.cv.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Sleeps until `deadline`; false when stopped meanwhile.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut state = lock(&self.state);
        loop {
            if state.stop {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            state = self
                .cv
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// One Thing's executor: runs its jobs one at a time, in arrival order.
struct Worker {
    thing: Thing,
    server_id: String,
    queue: Arc<WorkerQueue>,
    push: zmq::Socket,
}

impl Worker {
    fn run(mut self) {
        while let Some(job) = self.queue.pop() {
            if job
                .status
                .compare_exchange(QUEUED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue; // its invokation timeout fired: dropped, never executed
            }
            let start = Instant::now();
            let outcome = job.op.execute_on(&mut self.thing);
            let h = &job.op.header;
            let schedule = Schedule::of(&h.context, start, outcome.busy_for);
            if let Some(timeout_at) = schedule.timeout_at {
                if !self.queue.sleep_until(timeout_at) {
                    return;
                }
                self.send(&OutReply::answer(
                    h,
                    &self.server_id,
                    protocol::TIMEOUT,
                    b"\"execution\"".to_vec(),
                ));
            }
            // The Thing stays busy until the job finishes; a late result is discarded.
            if !self.queue.sleep_until(schedule.done_at) {
                return;
            }
            if schedule.sends_outcome(&h.context) {
                self.send(&OutReply::of_outcome(h, &self.server_id, outcome));
            }
        }
    }

    /// Hands a reply to the router thread, which sends it according to the behaviour.
    fn send(&self, reply: &OutReply) {
        let frames: [&[u8]; 7] = [
            b"R",
            reply.message_type.as_bytes(),
            reply.message_id.as_bytes(),
            &reply.identity,
            &reply.header,
            &reply.payload,
            &reply.preserialized,
        ];
        // Fails only when the router thread is gone: then nobody can be answered anyway.
        let _ = self.push.send_multipart(frames, zmq::DONTWAIT);
    }
}

enum TimerEvent {
    Invokation {
        status: Arc<AtomicU8>,
        message_id: String,
        sender_id: String,
    },
    Send(OutReply),
}

/// A small deterministic PRNG (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A fair coin.
    fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 0
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uuid4-shaped string.
    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

enum Flow {
    Continue,
    Exit,
}

struct RouterThread {
    shared: Arc<Shared>,
    router: zmq::Socket,
    inbox: zmq::Socket,
    queues: HashMap<String, Arc<WorkerQueue>>,
    alive: Arc<AtomicBool>,
    timers: Timers<TimerEvent>,
    behaviour_generation: u64,
    behaviour: Behaviour,
    rng: SplitMix64,
    /// Recent good replies per client identity, for replays.
    history: HashMap<Vec<u8>, VecDeque<OutReply>>,
}

impl RouterThread {
    fn run(mut self) {
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
            match frames.first().map(Vec::as_slice) {
                Some(b"R") if frames.len() == 7 => {
                    let mut it = frames.into_iter().skip(1);
                    let mut next = || it.next().unwrap_or_default();
                    let reply = OutReply {
                        message_type: String::from_utf8_lossy(&next()).into_owned(),
                        message_id: String::from_utf8_lossy(&next()).into_owned(),
                        identity: next(),
                        header: next(),
                        payload: next(),
                        preserialized: next(),
                    };
                    self.reply(reply);
                }
                _ => return Flow::Exit,
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
                self.rng = SplitMix64(cfg.seed);
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
        let queue = op
            .header
            .thing_id
            .as_ref()
            .and_then(|id| self.queues.get(id))
            .cloned();
        if let Some((message_type, payload)) = op.refusal(queue.is_some()) {
            self.send_simple(message_type, &op.header, payload);
            return Flow::Continue;
        }
        let Some(queue) = queue else {
            return Flow::Continue; // refused above
        };
        let status = Arc::new(AtomicU8::new(QUEUED));
        if let Some(limit) = op.header.context.invokation_timeout {
            self.timers.add(
                Instant::now() + limit,
                TimerEvent::Invokation {
                    status: status.clone(),
                    message_id: op.header.message_id.clone(),
                    sender_id: op.header.sender_id.clone(),
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
                TimerEvent::Invokation {
                    status,
                    message_id,
                    sender_id,
                } => {
                    if status
                        .compare_exchange(
                            QUEUED,
                            INVOKATION_TIMED_OUT,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        )
                        .is_ok()
                    {
                        let reply = self.build_reply(
                            protocol::TIMEOUT,
                            &message_id,
                            &sender_id,
                            b"\"invokation\"".to_vec(),
                        );
                        self.reply(reply);
                    }
                }
                TimerEvent::Send(reply) => self.send_now(&reply),
            }
        }
    }

    fn build_reply(
        &self,
        message_type: &str,
        message_id: &str,
        sender_id: &str,
        payload: Vec<u8>,
    ) -> OutReply {
        OutReply::simple(
            message_type,
            message_id,
            sender_id,
            &self.shared.server_id,
            payload,
        )
    }

    fn send_simple(&mut self, message_type: &str, header: &RequestHeader, payload: Vec<u8>) {
        let reply = self.build_reply(message_type, &header.message_id, &header.sender_id, payload);
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

    fn send_frames(&self, frames: &[&[u8]]) {
        // ROUTER without ROUTER_MANDATORY never blocks: unknown peers and full queues drop.
        let _ = self.router.send_multipart(frames, zmq::DONTWAIT);
    }

    fn send_now(&self, reply: &OutReply) {
        reply.send(&self.router, &mut self.shared.stats());
    }

    fn count_hostile(&self, kind: HostileKind) {
        *self.shared.stats().hostile_sent.entry(kind).or_default() += 1;
    }

    fn send_hostile(&mut self, cfg: &HostileConfig, mut reply: OutReply) {
        let mut fire = HashMap::new();
        for kind in HostileKind::ALL {
            // Always draw, so the sequence depends only on the seed and the reply count.
            let draw = self.rng.next_f64();
            fire.insert(kind, draw < cfg.rate(kind));
        }
        let receiver = String::from_utf8_lossy(&reply.identity).into_owned();
        let server_id = self.shared.server_id.clone();
        let id = reply.identity.clone();
        // A reply header from this server to this client, for the messages it makes up.
        let header_to_client = |kind: &str, message_id: &str, preserialized_type: &str| {
            response_header(
                kind,
                message_id,
                &receiver,
                &server_id,
                JSON_CONTENT_TYPE,
                preserialized_type,
            )
        };
        for kind in HostileKind::ALL {
            if !fire[&kind] {
                continue;
            }
            match kind {
                HostileKind::InvalidJsonHeader => {
                    self.send_frames(&[
                        &id,
                        b"",
                        b"{\"messageType\":\"REPLY\",\"messageID\":",
                        b"null",
                        b"",
                    ]);
                }
                HostileKind::ThreeFrames => self.send_frames(&[&id, b"", &reply.header]),
                HostileKind::SixFrames => self.send_frames(&[
                    &id,
                    b"",
                    &reply.header,
                    &reply.payload,
                    &reply.preserialized,
                    b"extra",
                ]),
                HostileKind::UnknownMessageId => {
                    let h = header_to_client(protocol::REPLY, &self.rng.uuid(), TEXT_PLAIN);
                    self.send_frames(&[&id, b"", &h, b"null", b""]);
                }
                HostileKind::Replay => {
                    let old = self.history.get(&id).and_then(|h| {
                        if h.is_empty() {
                            None
                        } else {
                            Some(h[(self.rng.next_u64() % h.len() as u64) as usize].clone())
                        }
                    });
                    let Some(old) = old else { continue };
                    self.send_frames(&[&id, b"", &old.header, &old.payload, &old.preserialized]);
                }
                HostileKind::UnsolicitedTimeout => {
                    let old_id = self
                        .history
                        .get(&id)
                        .and_then(|h| h.back())
                        .map(|r| r.message_id.clone());
                    let message_id = match old_id {
                        Some(old) if self.rng.coin() => old,
                        _ => self.rng.uuid(),
                    };
                    let payload: &[u8] = if self.rng.coin() {
                        b"\"execution\""
                    } else {
                        b"\"invokation\""
                    };
                    let h = header_to_client(protocol::TIMEOUT, &message_id, TEXT_PLAIN);
                    self.send_frames(&[&id, b"", &h, payload, b""]);
                }
                HostileKind::MissingKeys => {
                    let drop_key = if self.rng.coin() {
                        "messageID"
                    } else {
                        "messageType"
                    };
                    let h = header_without(&reply.header, drop_key);
                    self.send_frames(&[&id, b"", &h, &reply.payload, &reply.preserialized]);
                }
                HostileKind::LargeFrame => {
                    let h = header_to_client(protocol::REPLY, &self.rng.uuid(), JSON_CONTENT_TYPE);
                    let big = vec![b'x'; cfg.large_frame_size];
                    self.send_frames(&[&id, b"", &h, b"null", &big]);
                }
                HostileKind::ExtraKeys => {
                    let mut h = reply.header.clone();
                    h.pop(); // the closing brace
                    h.extend_from_slice(b",\"hostileExtra\":true}");
                    reply.header = h;
                }
                HostileKind::Duplicate => continue, // after the good reply
            }
            self.count_hostile(kind);
        }
        self.send_now(&reply);
        if fire[&HostileKind::ExtraKeys] {
            self.count_hostile(HostileKind::ExtraKeys);
        }
        if fire[&HostileKind::Duplicate] {
            self.send_frames(&[
                &id,
                b"",
                &reply.header,
                &reply.payload,
                &reply.preserialized,
            ]);
            self.count_hostile(HostileKind::Duplicate);
        }
        let history = self.history.entry(id).or_default();
        if history.len() == HISTORY_PER_CLIENT {
            history.pop_front();
        }
        history.push_back(reply);
    }
}

/// The header JSON with one key removed, key order otherwise preserved.
fn header_without(header: &[u8], key: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(header);
    let inner = text.trim_start_matches('{').trim_end_matches('}');
    // Reply header values are JSON strings without commas in practice; split at `,"` boundaries.
    let kept: Vec<&str> = inner
        .split(",\"")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.trim_start_matches('"')
            } else {
                part
            }
        })
        .filter(|part| !part.starts_with(&format!("{key}\"")))
        .collect();
    let body: Vec<String> = kept.iter().map(|p| format!("\"{p}")).collect();
    format!("{{{}}}", body.join(",")).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_without_keeps_order() {
        let h = response_header("REPLY", "id-1", "cli", "srv", JSON_CONTENT_TYPE, TEXT_PLAIN);
        let out = String::from_utf8(header_without(&h, "messageID")).unwrap();
        assert_eq!(
            out,
            r#"{"messageType":"REPLY","receiverID":"cli","senderID":"srv","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#
        );
        let out = String::from_utf8(header_without(&h, "messageType")).unwrap();
        assert!(out.starts_with(r#"{"messageID":"id-1","#), "{out}");
    }

    #[test]
    fn uuid_shape() {
        let mut rng = SplitMix64(7);
        let u = rng.uuid();
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }
}
