//! [`TestServer`]: the handle of one fake server and its threads, one router thread owning the
//! ROUTER socket ([`router`]) and one worker thread a Thing ([`worker`]).
//!
//! Invariants:
//! * a run is one libzmq context, one ROUTER socket, one inbox and one thread each for the router
//!   and every Thing; [`TestServer::restart`] makes a new run on the same endpoints, with fresh
//!   Things (property values back to their defaults);
//! * [`Stats`] and the [`Behaviour`] live in [`Shared`], outside any run, so they are kept across
//!   restarts; every behaviour change bumps a generation the router thread checks;
//! * shutting a run down sends the stop signal, joins the router thread, then stops and joins
//!   every worker, and only then drops the context, which therefore never blocks: every socket is
//!   closed by then (linger 0);
//! * a run also has one event [`publisher`] (a PUB socket) bound beside every request endpoint
//!   (tcp port + 1, `{id}.event-publisher.ipc`), and the threads of its [`stream`]s; a run that
//!   cannot bind its publisher does not start, and a start on tcp port 0 then tries other ports;
//! * shutting down stops the streams and closes the publisher after the workers are joined and
//!   before the context drops;
//! * the handle's public API is the crate's: nothing of the threads shows through it.

mod hostile;
mod publisher;
mod router;
mod stream;
mod worker;

pub use stream::StreamId;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Behaviour, ServerConfig};
use crate::description::DescriptionContext;
use crate::endpoints::{open_router, Endpoints};
use crate::error::Error;
use crate::events::{publisher_endpoint, publisher_id, EventStream, HostileEvent};
use crate::inproc;
use crate::lock::lock;
use crate::stats::Stats;
use crate::thing::Thing;
use crate::transport::Transport;
use publisher::Publisher;
use router::RouterThread;
use stream::Streams;
use worker::{Worker, WorkerQueue, INBOX};

/// State shared by the handle and the threads of every run.
struct Shared {
    server_id: String,
    stats: Mutex<Stats>,
    /// The behaviour and its generation, bumped by every change.
    behaviour: Mutex<(u64, Behaviour)>,
    /// Events handed to the PUB socket, over every run.
    published: Arc<AtomicU64>,
    /// The next [`StreamId`].
    next_stream: AtomicU64,
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
    /// The event publisher's endpoints, one beside each of `bound.endpoints`, in that order.
    event_endpoints: Vec<String>,
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
            published: Arc::new(AtomicU64::new(0)),
            next_stream: AtomicU64::new(0),
        });
        let mut server = TestServer {
            config,
            bound,
            event_endpoints: Vec::new(),
            shared,
            running: None,
        };
        server.first_launch()?;
        Ok(server)
    }

    /// Launches the first run; when the publisher's tcp port + 1 is taken and the request port
    /// was chosen by the OS, tries again on other ports.
    fn first_launch(&mut self) -> Result<(), Error> {
        const ATTEMPTS: usize = 50;
        for _ in 1..ATTEMPTS {
            match self.launch() {
                Err(Error::EventBind { source, .. })
                    if source == zmq::Error::EADDRINUSE
                        && self.bound.reset_any_ports(&self.config) => {}
                other => return other,
            }
        }
        self.launch()
    }

    fn launch(&mut self) -> Result<(), Error> {
        let ctx = zmq::Context::new();
        let router = open_router(&ctx, &self.config, &mut self.bound.endpoints)?;
        self.event_endpoints = self
            .bound
            .endpoints
            .iter()
            .map(|e| publisher_endpoint(e, &self.config.server_id))
            .collect::<Result<_, _>>()?;
        let publisher = Arc::new(Publisher::open(
            &ctx,
            &self.config.server_id,
            &self.event_endpoints,
            self.config.event_send_hwm,
            self.shared.published.clone(),
        )?);
        let inbox = inproc::pull(&ctx, INBOX)?;
        let control = inproc::push(&ctx, INBOX)?;

        let alive = Arc::new(AtomicBool::new(true));
        let mut workers = Vec::new();
        let mut queues = HashMap::new();
        for thing_id in &self.config.thing_ids {
            let push = inproc::push(&ctx, INBOX)?;
            let queue = Arc::new(WorkerQueue::default());
            let worker = Worker {
                thing: Thing::new(thing_id.clone())
                    .with_observable(&self.config.observable)
                    .with_description(DescriptionContext::new(
                        &self.bound.endpoints,
                        &self.event_endpoints,
                        self.config
                            .event_streams
                            .iter()
                            .filter(|s| &s.thing == thing_id)
                            .map(|s| s.event.clone())
                            .collect(),
                    )),
                server_id: self.config.server_id.clone(),
                queue: queue.clone(),
                push,
                publisher: publisher.clone(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("testkit-thing-{thing_id}"))
                .spawn(move || worker.run())?;
            queues.insert(thing_id.clone(), queue.clone());
            workers.push((queue, handle));
        }
        let router_thread =
            RouterThread::new(self.shared.clone(), router, inbox, queues, alive.clone());
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
                publisher.close();
                return Err(e.into());
            }
        };
        let running = Running {
            control: Mutex::new(Some(control)),
            router: Some(router_handle),
            workers,
            alive,
            publisher,
            streams: Mutex::new(Streams::default()),
            ctx: Some(ctx),
        };
        self.running = Some(running);
        for stream in self.config.event_streams.clone() {
            self.start_stream(stream).ok_or_else(|| {
                Error::Io(std::io::Error::other("cannot start an event stream thread"))
            })?;
        }
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
        self.bound.tcp_endpoint()
    }

    /// The ipc endpoint, if any.
    pub fn ipc_endpoint(&self) -> Option<&str> {
        self.bound.ipc_endpoint()
    }

    /// The filesystem path of the ipc socket, if any.
    pub fn ipc_path(&self) -> Option<&Path> {
        self.bound.ipc_path.as_deref()
    }

    /// The event publisher's id, `"{server id}/event-publisher"` (`senderID` of every event).
    pub fn publisher_id(&self) -> String {
        publisher_id(&self.config.server_id)
    }

    /// Every event publisher endpoint, one beside each of [`TestServer::endpoints`] and in the
    /// same order: tcp port + 1, or `{id}.event-publisher.ipc` in the ipc socket's directory.
    pub fn event_endpoints(&self) -> &[String] {
        &self.event_endpoints
    }

    /// The event publisher endpoint beside the first request endpoint of `transport`, if any
    /// (beside [`TestServer::tcp_endpoint`] or [`TestServer::ipc_endpoint`]).
    pub fn event_endpoint(&self, transport: Transport) -> Option<&str> {
        let scheme = format!("{}://", transport.name());
        self.event_endpoints
            .iter()
            .find(|e| e.starts_with(&scheme))
            .map(String::as_str)
    }

    /// The event publisher endpoint beside the first tcp endpoint, if any.
    pub fn event_tcp_endpoint(&self) -> Option<&str> {
        self.event_endpoint(Transport::Tcp)
    }

    /// The event publisher endpoint beside the ipc endpoint, if any.
    pub fn event_ipc_endpoint(&self) -> Option<&str> {
        self.event_endpoint(Transport::Ipc)
    }

    /// Publishes event `event` of Thing `thing` (topic `"{thing}/{event}"`) with the JSON
    /// `payload` bytes, as hololinked does. False when the server is not running; true means the
    /// PUB socket took it, which still drops it for subscribers whose pipe is full or who have
    /// not subscribed yet.
    pub fn publish(&self, thing: &str, event: &str, payload: &[u8]) -> bool {
        self.publisher()
            .is_some_and(|p| p.publish(thing, event, payload.to_vec()))
    }

    /// Publishes `frames` verbatim, as one multipart message (frame 0 is the SUB topic). False
    /// when the server is not running.
    pub fn publish_raw(&self, frames: Vec<Vec<u8>>) -> bool {
        self.publisher().is_some_and(|p| p.publish_raw(frames))
    }

    /// Publishes a hostile variant of event `event` of Thing `thing` (see [`HostileEvent`]).
    /// False when the server is not running.
    pub fn publish_hostile(&self, thing: &str, event: &str, kind: HostileEvent) -> bool {
        self.publisher()
            .is_some_and(|p| p.publish_hostile(thing, event, kind))
    }

    /// Events the PUB socket took (by every publish and stream), over every run.
    pub fn events_published(&self) -> u64 {
        self.shared.published.load(Ordering::Relaxed)
    }

    /// Starts a steady stream on the running server (until [`TestServer::stop_stream`],
    /// [`TestServer::stop_streams`] or the end of the run: a restart starts only the configured
    /// streams). `None` when the server is not running or the thread cannot start.
    pub fn start_stream(&self, stream: EventStream) -> Option<StreamId> {
        let running = self.running.as_ref()?;
        let id = StreamId(self.shared.next_stream.fetch_add(1, Ordering::Relaxed));
        lock(&running.streams)
            .start(id, stream, running.publisher.clone())
            .ok()?;
        Some(id)
    }

    /// Stops a stream of this run; the number of events it published (`None` if not running).
    pub fn stop_stream(&self, id: StreamId) -> Option<u64> {
        lock(&self.running.as_ref()?.streams).stop(id)
    }

    /// Stops every stream of this run, configured ones included.
    pub fn stop_streams(&self) {
        if let Some(running) = &self.running {
            lock(&running.streams).stop_all();
        }
    }

    fn publisher(&self) -> Option<&Publisher> {
        self.running.as_ref().map(|r| &*r.publisher)
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
        self.remove_event_ipc();
    }

    /// Removes the publisher's ipc socket files.
    fn remove_event_ipc(&self) {
        for path in self
            .event_endpoints
            .iter()
            .filter_map(|e| e.strip_prefix("ipc://"))
        {
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
                Err(Error::Bind { source, .. } | Error::EventBind { source, .. })
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
        self.remove_event_ipc();
        self.bound.remove_ipc();
    }
}

/// The threads and sockets of one run.
struct Running {
    control: Mutex<Option<zmq::Socket>>,
    router: Option<JoinHandle<()>>,
    workers: Vec<(Arc<WorkerQueue>, JoinHandle<()>)>,
    alive: Arc<AtomicBool>,
    publisher: Arc<Publisher>,
    streams: Mutex<Streams>,
    ctx: Option<zmq::Context>,
}

impl Running {
    fn shutdown(mut self) {
        inproc::signal_stop(&self.control);
        if let Some(router) = self.router.take() {
            let _ = router.join();
        }
        for (queue, _) in &self.workers {
            queue.stop();
        }
        for (_, handle) in self.workers.drain(..) {
            let _ = handle.join();
        }
        lock(&self.streams).stop_all();
        self.publisher.close();
        self.alive.store(false, Ordering::SeqCst);
        // Every socket is closed by now, so terminating the context does not block.
        drop(self.ctx.take());
    }
}
