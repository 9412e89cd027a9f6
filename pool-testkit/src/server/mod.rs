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
//! * the handle's public API is the crate's: nothing of the threads shows through it.

mod hostile;
mod router;
mod worker;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Behaviour, ServerConfig};
use crate::endpoints::{open_router, Endpoints};
use crate::error::Error;
use crate::inproc;
use crate::lock::lock;
use crate::stats::Stats;
use crate::thing::Thing;
use router::RouterThread;
use worker::{Worker, WorkerQueue, INBOX};

/// State shared by the handle and the threads of every run.
struct Shared {
    server_id: String,
    stats: Mutex<Stats>,
    /// The behaviour and its generation, bumped by every change.
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
        let inbox = inproc::pull(&ctx, INBOX)?;
        let control = inproc::push(&ctx, INBOX)?;

        let alive = Arc::new(AtomicBool::new(true));
        let mut workers = Vec::new();
        let mut queues = HashMap::new();
        for thing_id in &self.config.thing_ids {
            let push = inproc::push(&ctx, INBOX)?;
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
        self.alive.store(false, Ordering::SeqCst);
        // Every socket is closed by now, so terminating the context does not block.
        drop(self.ctx.take());
    }
}
