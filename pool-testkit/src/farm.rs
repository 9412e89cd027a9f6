//! [`ServerFarm`]: many hololinked-compatible servers on one thread.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::config::{Behaviour, ServerConfig};
use crate::endpoints::{open_router, Endpoints};
use crate::error::Error;
use crate::handling::{
    classify, Inbound, Operation, OutReply, Schedule, EXECUTION_TIMEOUT, INVOKATION_TIMEOUT,
};
use crate::inproc;
use crate::lock::lock;
use crate::stats::Stats;
use crate::thing::Thing;
use crate::timers::Timers;

const CONTROL: &str = "inproc://pool-testkit-farm-control";

/// The most servers one farm holds: libzmq allows 1023 sockets per context (`ZMQ_MAX_SOCKETS`),
/// and the farm needs two of its own.
pub const MAX_FARM_SERVERS: usize = 1000;

/// Messages read from one ROUTER before the farm looks at the others again.
const BATCH: usize = 64;

/// Many hololinked-compatible servers served from one thread: each its own ROUTER socket (its
/// own identity = server id, its own endpoints, its own Things), all in one libzmq context with
/// few I/O threads (default 1), all watched by one thread, which also executes every Thing.
/// That thread waits in epoll (mio) on the sockets' `ZMQ_FD`s and then serves only the servers
/// that have messages, a batch each in turn: its cost per request does not grow with the number
/// of idle servers, as `zmq::poll` over every socket (one `poll(2)` of all descriptors per wake-up)
/// would. A process with 256 servers thus has 4 threads (the farm, one libzmq I/O thread,
/// libzmq's reaper, the caller), where 256 [`crate::TestServer`]s have 1024.
///
/// Each server answers like a [`crate::TestServer`] with [`Behaviour::Normal`], through the same
/// request handling and the same [`Thing`]s: HANDSHAKE, every operation, INVALID_MESSAGE,
/// invokation and execution timeouts, oneway requests. Two differences:
///
/// * A Thing that is busy (`sleep_for`) does not block the thread: its job's reply (or its
///   execution TIMEOUT) is sent by a timer when it is due, and the Thing's next jobs wait in its
///   own queue meanwhile (invokation timeouts apply there), while every other Thing and server
///   goes on answering.
/// * `EXIT` closes that one server's socket (its clients see a disconnect, [`Self::is_serving`]
///   turns false); the other servers keep serving.
///
/// There are no fault behaviours (use [`crate::TestServer`] for those) and no restart. Dropping
/// the farm (or [`ServerFarm::stop`]) stops the thread, closes every socket and removes the ipc
/// socket files.
///
/// ```no_run
/// use pool_testkit::{ServerConfig, ServerFarm};
///
/// let farm = ServerFarm::builder()
///     .servers((0..16).map(|i| ServerConfig::builder(format!("srv-{i}")).send_hwm(0).build()))
///     .start()?;
/// for i in 0..farm.len() {
///     println!("{} at {}", farm.server_id(i).unwrap(), farm.endpoints(i).unwrap()[0]);
/// }
/// # Ok::<(), pool_testkit::Error>(())
/// ```
pub struct ServerFarm {
    servers: Vec<(ServerConfig, Endpoints)>,
    stats: Arc<Vec<Mutex<Stats>>>,
    serving: Arc<Vec<AtomicBool>>,
    alive: Arc<AtomicBool>,
    control: Mutex<Option<zmq::Socket>>,
    thread: Option<JoinHandle<()>>,
    ctx: Option<zmq::Context>,
}

impl std::fmt::Debug for ServerFarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerFarm")
            .field("servers", &self.servers.len())
            .field("running", &self.is_running())
            .finish()
    }
}

/// Builder of a [`ServerFarm`]: its servers and libzmq I/O threads.
#[derive(Debug, Clone)]
pub struct ServerFarmBuilder {
    servers: Vec<ServerConfig>,
    io_threads: i32,
}

impl ServerFarmBuilder {
    /// Adds a server (its id, Things, transports and send high-water mark are used; its
    /// behaviour must be [`Behaviour::Normal`]).
    #[must_use]
    pub fn server(mut self, config: ServerConfig) -> Self {
        self.servers.push(config);
        self
    }

    /// Adds several servers.
    #[must_use]
    pub fn servers(mut self, configs: impl IntoIterator<Item = ServerConfig>) -> Self {
        self.servers.extend(configs);
        self
    }

    /// libzmq I/O threads of the farm's context (default 1; at least 1).
    #[must_use]
    pub fn io_threads(mut self, threads: i32) -> Self {
        self.io_threads = threads;
        self
    }

    /// Binds every server and starts the farm's thread. Nothing is left bound when it fails.
    pub fn start(self) -> Result<ServerFarm, Error> {
        ServerFarm::start(self)
    }
}

impl ServerFarm {
    /// A builder of a farm with no servers yet and one I/O thread.
    pub fn builder() -> ServerFarmBuilder {
        ServerFarmBuilder {
            servers: Vec::new(),
            io_threads: 1,
        }
    }

    fn start(builder: ServerFarmBuilder) -> Result<ServerFarm, Error> {
        let ServerFarmBuilder {
            servers: configs,
            io_threads,
        } = builder;
        if configs.is_empty() || configs.len() > MAX_FARM_SERVERS {
            return Err(Error::Config(format!(
                "a farm holds 1 to {MAX_FARM_SERVERS} servers, not {}",
                configs.len()
            )));
        }
        if io_threads < 1 {
            return Err(Error::Config(format!(
                "a farm needs at least one I/O thread, not {io_threads}"
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for config in &configs {
            config.validate()?;
            if config.behaviour != Behaviour::Normal {
                return Err(Error::Config(format!(
                    "server {:?}: a farm serves every server normally (fault behaviours are \
                     TestServer's)",
                    config.server_id
                )));
            }
            if !ids.insert(config.server_id.as_str()) {
                return Err(Error::Config(format!(
                    "duplicate server id {:?}",
                    config.server_id
                )));
            }
        }
        let ctx = zmq::Context::new();
        ctx.set_io_threads(io_threads)?;
        let mut servers: Vec<(ServerConfig, Endpoints)> = Vec::with_capacity(configs.len());
        let mut sockets = Vec::with_capacity(configs.len());
        let opened = || -> Result<(zmq::Socket, zmq::Socket), Error> {
            for config in configs {
                let mut bound = Endpoints::of(&config)?;
                // Pushed first, so that a failed bind's ipc directory is cleaned up too.
                let result = open_router(&ctx, &config, &mut bound.endpoints);
                servers.push((config, bound));
                sockets.push(Some(result?));
            }
            let control_in = inproc::pull(&ctx, CONTROL)?;
            let control = inproc::push(&ctx, CONTROL)?;
            Ok((control_in, control))
        };
        let (control_in, control) = match opened() {
            Ok(pair) => pair,
            Err(e) => {
                drop(sockets);
                for (_, bound) in &mut servers {
                    bound.remove_ipc();
                }
                return Err(e);
            }
        };
        let stats: Arc<Vec<Mutex<Stats>>> =
            Arc::new(servers.iter().map(|_| Mutex::default()).collect());
        let serving: Arc<Vec<AtomicBool>> =
            Arc::new(servers.iter().map(|_| AtomicBool::new(true)).collect());
        let alive = Arc::new(AtomicBool::new(true));
        let farm_thread = FarmThread {
            servers: servers
                .iter()
                .map(|(config, bound)| FarmServer::new(config, &bound.endpoints))
                .collect(),
            stats: Arc::clone(&stats),
            serving: Arc::clone(&serving),
            alive: Arc::clone(&alive),
            timers: Timers::default(),
            job_seq: 0,
            ready: Ready::default(),
        };
        let thread = std::thread::Builder::new()
            .name("testkit-farm".to_owned())
            .spawn(move || farm_thread.run(sockets, control_in));
        let mut farm = ServerFarm {
            servers,
            stats,
            serving,
            alive,
            control: Mutex::new(Some(control)),
            thread: None,
            ctx: Some(ctx),
        };
        // On a failed spawn the sockets were dropped with the closure; drop cleans up the rest.
        farm.thread = Some(thread?);
        Ok(farm)
    }

    /// How many servers the farm has.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether the farm has no server (never true for a started farm).
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The id (ROUTER identity) of server `index`.
    pub fn server_id(&self, index: usize) -> Option<&str> {
        self.servers.get(index).map(|(c, _)| c.server_id.as_str())
    }

    /// The configuration server `index` was started with.
    pub fn config(&self, index: usize) -> Option<&ServerConfig> {
        self.servers.get(index).map(|(c, _)| c)
    }

    /// Every endpoint of server `index`, with concrete tcp ports, in its transports' order.
    pub fn endpoints(&self, index: usize) -> Option<&[String]> {
        self.servers.get(index).map(|(_, b)| b.endpoints.as_slice())
    }

    /// The first tcp endpoint of server `index`, if any.
    pub fn tcp_endpoint(&self, index: usize) -> Option<&str> {
        self.servers.get(index)?.1.tcp_endpoint()
    }

    /// The ipc endpoint of server `index`, if any.
    pub fn ipc_endpoint(&self, index: usize) -> Option<&str> {
        self.servers.get(index)?.1.ipc_endpoint()
    }

    /// The filesystem path of server `index`'s ipc socket, if any.
    pub fn ipc_path(&self, index: usize) -> Option<&Path> {
        self.servers.get(index)?.1.ipc_path.as_deref()
    }

    /// A snapshot of server `index`'s counters.
    pub fn stats(&self, index: usize) -> Option<Stats> {
        self.stats.get(index).map(|s| lock(s).clone())
    }

    /// Whether server `index` still serves: false after an `EXIT` request to it, or once the
    /// farm stopped.
    pub fn is_serving(&self, index: usize) -> bool {
        self.is_running()
            && self
                .serving
                .get(index)
                .is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// Whether the farm's thread runs (false after [`ServerFarm::stop`]).
    pub fn is_running(&self) -> bool {
        self.thread.is_some() && self.alive.load(Ordering::SeqCst)
    }

    /// Stops the thread (jobs still waiting or busy are abandoned, unanswered), closes every
    /// socket and removes the ipc socket files. Drop does the same.
    pub fn stop(&mut self) {
        inproc::signal_stop(&self.control);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.alive.store(false, Ordering::SeqCst);
        // Every socket is closed by now, so terminating the context does not block.
        drop(self.ctx.take());
        for (_, bound) in &mut self.servers {
            bound.remove_ipc();
        }
    }
}

impl Drop for ServerFarm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One Thing of a farm server: its state, when it is free again, the jobs waiting for it.
struct FarmThing {
    thing: Thing,
    busy_until: Instant,
    queue: VecDeque<(u64, Operation)>,
}

/// What the farm's thread knows of one server.
struct FarmServer {
    id: String,
    things: Vec<FarmThing>,
    by_id: HashMap<String, usize>,
}

impl FarmServer {
    /// A server of the farm; its Things' TDs point at `endpoints` (a farm has no event
    /// publisher: its observeproperty forms have an empty href).
    fn new(config: &ServerConfig, endpoints: &[String]) -> FarmServer {
        let now = Instant::now();
        FarmServer {
            id: config.server_id.clone(),
            things: config
                .thing_ids
                .iter()
                .map(|id| FarmThing {
                    thing: Thing::new(id.clone()).with_description(
                        crate::description::DescriptionContext::new(endpoints, &[], Vec::new()),
                    ),
                    busy_until: now,
                    queue: VecDeque::new(),
                })
                .collect(),
            by_id: config
                .thing_ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
        }
    }
}

enum FarmEvent {
    /// A reply that is due (a busy Thing's outcome, or its execution TIMEOUT).
    Send { server: usize, reply: OutReply },
    /// Thing `thing` of `server` is done with its job: start the next one.
    ThingFree { server: usize, thing: usize },
    /// Job `job`'s invokation timeout: TIMEOUT if it is still waiting.
    Invokation {
        server: usize,
        thing: usize,
        job: u64,
    },
}

/// The farm's thread: every server's sockets are polled here and every Thing runs here.
struct FarmThread {
    servers: Vec<FarmServer>,
    stats: Arc<Vec<Mutex<Stats>>>,
    serving: Arc<Vec<AtomicBool>>,
    alive: Arc<AtomicBool>,
    timers: Timers<FarmEvent>,
    job_seq: u64,
    /// The servers to look at before waiting again.
    ready: Ready,
}

/// The ROUTER sockets, by server index (`None` once closed by `EXIT`).
type Sockets = [Option<zmq::Socket>];

/// The epoll token of the control socket (servers' tokens are their indexes).
const CONTROL_TOKEN: Token = Token(usize::MAX);

/// What one turn at a server's socket left.
enum Drained {
    /// Messages may be waiting still: its turn comes again.
    More,
    /// None waiting: wait for its signal.
    Empty,
    /// It got `EXIT`.
    Exit,
}

/// Whether `socket` has a message waiting: `ZMQ_EVENTS`, which also processes the socket's
/// pending commands, so that once it says no, the socket's `ZMQ_FD` signals (edge-triggered, as
/// epoll watches it here) when the next message comes. A send processes commands too (and may
/// take the signal of a message that came meanwhile), so a socket a timer sent on is looked at
/// again before the farm waits.
fn readable(socket: &zmq::Socket) -> bool {
    socket
        .get_events()
        .is_ok_and(|events| events.contains(zmq::POLLIN))
}

/// The servers whose sockets may have messages waiting, each once, in turn.
#[derive(Default)]
struct Ready {
    queue: VecDeque<usize>,
    queued: Vec<bool>,
}

impl Ready {
    fn mark(&mut self, server: usize) {
        if self.queued.len() <= server {
            self.queued.resize(server + 1, false);
        }
        if !self.queued[server] {
            self.queued[server] = true;
            self.queue.push_back(server);
        }
    }

    fn pop(&mut self) -> Option<usize> {
        let server = self.queue.pop_front()?;
        self.queued[server] = false;
        Some(server)
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl FarmThread {
    fn run(mut self, mut sockets: Vec<Option<zmq::Socket>>, control: zmq::Socket) {
        // A failure here ends the farm at once; `is_running` then tells.
        let _ = self.serve(&mut sockets, &control);
        self.alive.store(false, Ordering::SeqCst);
        // The sockets close (linger 0) as they drop here.
    }

    /// The loop: waits in epoll for any socket's signal, then serves the servers that have
    /// messages, a batch each in turn, and the due timers.
    fn serve(
        &mut self,
        sockets: &mut [Option<zmq::Socket>],
        control: &zmq::Socket,
    ) -> std::io::Result<()> {
        let mut poll = mio::Poll::new()?;
        for (server, socket) in sockets.iter().enumerate() {
            if let Some(socket) = socket {
                let fd = socket.get_fd()?;
                poll.registry()
                    .register(&mut SourceFd(&fd), Token(server), Interest::READABLE)?;
            }
        }
        let control_fd = control.get_fd()?;
        poll.registry().register(
            &mut SourceFd(&control_fd),
            CONTROL_TOKEN,
            Interest::READABLE,
        )?;
        let mut events = mio::Events::with_capacity(1024);
        // Everything is checked once: a signal may have come before the registration.
        let mut check_control = true;
        for server in 0..sockets.len() {
            self.ready.mark(server);
        }
        loop {
            if check_control && readable(control) {
                return Ok(());
            }
            check_control = false;
            for _ in 0..self.ready.len() {
                let Some(server) = self.ready.pop() else {
                    break;
                };
                match self.drain(server, sockets) {
                    Drained::More => self.ready.mark(server),
                    Drained::Empty => {}
                    Drained::Exit => {
                        if let Some(socket) = sockets[server].take() {
                            if let Ok(fd) = socket.get_fd() {
                                let _ = poll.registry().deregister(&mut SourceFd(&fd));
                            }
                        }
                        self.serving[server].store(false, Ordering::SeqCst);
                        for thing in &mut self.servers[server].things {
                            thing.queue.clear();
                        }
                    }
                }
            }
            self.fire_timers(sockets);
            let timeout = if self.ready.is_empty() {
                self.timers.time_left()
            } else {
                Some(Duration::ZERO)
            };
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    CONTROL_TOKEN => check_control = true,
                    Token(server) if sockets.get(server).is_some_and(Option::is_some) => {
                        self.ready.mark(server);
                    }
                    Token(_) => {}
                }
            }
        }
    }

    /// Handles up to a batch of what server `server` received.
    fn drain(&mut self, server: usize, sockets: &Sockets) -> Drained {
        let Some(router) = &sockets[server] else {
            return Drained::Empty;
        };
        for _ in 0..BATCH {
            let Ok(frames) = router.recv_multipart(zmq::DONTWAIT) else {
                break;
            };
            let inbound = classify(frames, &mut lock(&self.stats[server]));
            match inbound {
                Inbound::Dropped => {}
                Inbound::Exit => return Drained::Exit,
                Inbound::Immediate {
                    message_type,
                    header,
                    payload,
                } => {
                    let reply =
                        OutReply::answer(&header, &self.servers[server].id, message_type, payload);
                    self.send(server, &reply, sockets);
                }
                Inbound::Operation(op) => self.operate(server, op, sockets),
            }
        }
        if readable(router) {
            Drained::More
        } else {
            Drained::Empty
        }
    }

    fn send(&self, server: usize, reply: &OutReply, sockets: &Sockets) {
        if let Some(router) = &sockets[server] {
            reply.send(router, &mut lock(&self.stats[server]));
        }
    }

    /// Sends `reply` now if `at` has come, else when it does.
    fn send_at(&mut self, server: usize, at: Instant, reply: OutReply, sockets: &Sockets) {
        if at <= Instant::now() {
            self.send(server, &reply, sockets);
        } else {
            self.timers.add(at, FarmEvent::Send { server, reply });
        }
    }

    fn operate(&mut self, server: usize, op: Operation, sockets: &Sockets) {
        let srv = &self.servers[server];
        let thing = match op.admit(|id| srv.by_id.get(id).copied()) {
            Ok(thing) => thing,
            Err((message_type, payload)) => {
                let reply = OutReply::answer(&op.header, &srv.id, message_type, payload);
                self.send(server, &reply, sockets);
                return;
            }
        };
        let now = Instant::now();
        let t = &mut self.servers[server].things[thing];
        if t.queue.is_empty() && t.busy_until <= now {
            self.execute(server, thing, op, now, sockets);
            return;
        }
        self.job_seq += 1;
        let job = self.job_seq;
        if let Some(limit) = op.header.context.invokation_timeout {
            self.timers
                .add(now + limit, FarmEvent::Invokation { server, thing, job });
        }
        t.queue.push_back((job, op));
    }

    /// Runs `op` on its Thing, which starts at `start`, and schedules what follows.
    fn execute(
        &mut self,
        server: usize,
        thing: usize,
        op: Operation,
        start: Instant,
        sockets: &Sockets,
    ) {
        let srv = &mut self.servers[server];
        let t = &mut srv.things[thing];
        let outcome = op.execute_on(&mut t.thing);
        let h = &op.header;
        let schedule = Schedule::of(&h.context, start, outcome.busy_for);
        t.busy_until = schedule.done_at;
        let timeout = schedule.timeout_at.map(|at| {
            let reply = OutReply::timeout(h, &srv.id, EXECUTION_TIMEOUT);
            (at, reply)
        });
        let result = schedule
            .sends_outcome(&h.context)
            .then(|| OutReply::of_outcome(h, &srv.id, outcome));
        if let Some((at, reply)) = timeout {
            self.send_at(server, at, reply, sockets);
        }
        if let Some(reply) = result {
            self.send_at(server, schedule.done_at, reply, sockets);
        }
        if schedule.done_at > Instant::now() {
            self.timers
                .add(schedule.done_at, FarmEvent::ThingFree { server, thing });
        }
    }

    fn fire_timers(&mut self, sockets: &Sockets) {
        let now = Instant::now();
        while let Some((_, event)) = self.timers.pop_due(now) {
            // A send may take the socket's signal: look at it again before waiting.
            let (FarmEvent::Send { server, .. }
            | FarmEvent::ThingFree { server, .. }
            | FarmEvent::Invokation { server, .. }) = event;
            self.ready.mark(server);
            match event {
                FarmEvent::Send { server, reply } => self.send(server, &reply, sockets),
                FarmEvent::ThingFree { server, thing } => {
                    self.start_waiting(server, thing, now, sockets);
                }
                FarmEvent::Invokation { server, thing, job } => {
                    let srv = &mut self.servers[server];
                    let queue = &mut srv.things[thing].queue;
                    let Some(at) = queue.iter().position(|(j, _)| *j == job) else {
                        continue; // started (or its server closed) meanwhile
                    };
                    if let Some((_, op)) = queue.remove(at) {
                        let reply = OutReply::timeout(&op.header, &srv.id, INVOKATION_TIMEOUT);
                        self.send(server, &reply, sockets);
                    }
                }
            }
        }
    }

    /// Starts the jobs waiting for a Thing that is free by `now`, in arrival order, each at the
    /// moment the one before it finished (as a Thing's own worker thread would).
    fn start_waiting(&mut self, server: usize, thing: usize, now: Instant, sockets: &Sockets) {
        loop {
            let t = &mut self.servers[server].things[thing];
            if t.busy_until > now {
                return;
            }
            let start = t.busy_until;
            let Some((_, op)) = t.queue.pop_front() else {
                return;
            };
            self.execute(server, thing, op, start, sockets);
        }
    }
}
