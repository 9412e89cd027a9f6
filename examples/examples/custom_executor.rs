//! The async pool on an executor that is none of tokio, async-std or smol: here
//! `futures::executor::ThreadPool`.
//!
//! ```sh
//! # Against an in-process hololinked-compatible test server (exit code 1 on any wrong result):
//! cargo run -p pool-examples --example custom_executor
//! # Against a real server whose Thing (id = server id) has the property `number` and the
//! # actions `add`, `echo`, `sleep_for` and `fail`, such as pool-testkit/python/thing_server.py:
//! cargo run -p pool-examples --example custom_executor -- my-thing=tcp://127.0.0.1:5555
//! ```
//!
//! # Embedding the pool in your own executor
//!
//! This is *the* way to run `pool_driver::Pool` on an executor that no adapter crate covers.
//! Depend on `pool-driver` with `default-features = false, features =
//! ["async-dispatcher-runtime"]`, then:
//!
//! 1. **Implement [`pool_driver::Runtime`]** for a handle to your executor: `spawn` a `Send`
//!    future in the background, `sleep_until` an `Instant` (any timer future), and
//!    `current()`, which may return `None` if there is no ambient executor to find.
//! 2. **Call [`pool_driver::install_dispatcher`] once per process**, before the first pool is
//!    built. zeromq spawns its own internal tasks (connecting, one writer per peer) through a
//!    process-global hook; this points the hook at your runtime.
//! 3. **Build pools with [`PoolBuilder::build_on`](pool_driver::PoolBuilder::build_on)**`(rt)`
//!    (`build()` only works when `Runtime::current()` finds the runtime).
//!
//! Limits:
//!
//! * The hook is **process-global and the first install wins**: later calls, by you or by a
//!   library (`pool-smol` installs smol's executor when its first pool is built), are silently
//!   ignored, and every zeromq socket in the process then runs its tasks on the first runtime.
//!   Install it from one place, early in `main`.
//! * zeromq's sockets do their I/O on **async-io's reactor**, not on your executor's: async-io
//!   drives it from its own background thread when no one else does, so nothing is needed
//!   from you, but that thread exists. (This example uses async-io's timers too; any timer works.)
//! * zeromq's runtime features are mutually exclusive: this build cannot be linked into the
//!   same binary as `pool-tokio` or `pool-async-std`.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::executor::{block_on, ThreadPool};
use futures::future::join_all;
use pool_driver::{Error, Request};
use pool_testkit::{ServerConfig, TestServer};
use serde_json::json;

type BoxError = Box<dyn StdError>;
type Pool = pool_driver::Pool<ThreadPoolRuntime>;

/// Step 1: a handle to the executor, as the pool sees it.
#[derive(Clone)]
struct ThreadPoolRuntime {
    executor: ThreadPool,
    /// Tasks spawned so far (the pool's and zeromq's): shows who runs them.
    spawned: Arc<AtomicUsize>,
}

impl pool_driver::Runtime for ThreadPoolRuntime {
    // async-io's timers run on its reactor thread, so they fire whatever executor polls them.
    type Sleep = async_io::Timer;

    /// A `ThreadPool` is a value, not an ambient context: there is nothing to find, so pools
    /// are built with `build_on`.
    fn current() -> Option<Self> {
        None
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawned.fetch_add(1, Ordering::Relaxed);
        self.executor.spawn_ok(future);
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        async_io::Timer::at(deadline)
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args)
}

fn run(args: &[String]) -> Result<(), BoxError> {
    let executor = ThreadPool::builder()
        .pool_size(2)
        .name_prefix("app-executor-")
        .create()?;
    let rt = ThreadPoolRuntime {
        executor,
        spawned: Arc::new(AtomicUsize::new(0)),
    };
    // Step 2: once per process, before any pool exists. (`run` is called once per process,
    // by `main` or by the test; a second install would be ignored and zeromq's tasks would
    // stay on this first ThreadPool.)
    pool_driver::install_dispatcher(rt.clone());

    // The test server lives until the end of `run`, whichever mode runs.
    let (_server, id, endpoint) = match args {
        [] => start_test_server("demo")?,
        [arg] => {
            let (id, endpoint) = arg.split_once('=').ok_or("usage: SERVER_ID=ENDPOINT")?;
            (None, id.to_owned(), endpoint.to_owned())
        }
        _ => return Err("usage: custom_executor [SERVER_ID=ENDPOINT]".into()),
    };
    let spawned = Arc::clone(&rt.spawned);
    block_on(tour(rt, &id, &endpoint))?;
    let spawned = spawned.load(Ordering::Relaxed);
    if spawned == 0 {
        return Err("nothing ran on the ThreadPool".into());
    }
    println!(
        "executor:         {spawned} tasks (the pool's and zeromq's) spawned on the ThreadPool"
    );
    println!("custom executor example: all checks passed");
    Ok(())
}

fn start_test_server(id: &str) -> Result<(Option<TestServer>, String, String), BoxError> {
    let server = TestServer::start(ServerConfig::builder(id).tcp().build())?;
    let endpoint = server.tcp_endpoint().ok_or("no tcp endpoint")?.to_owned();
    Ok((Some(server), id.to_owned(), endpoint))
}

/// Everything the pool does, on the `ThreadPool`, checked.
async fn tour(rt: ThreadPoolRuntime, id: &str, endpoint: &str) -> Result<(), BoxError> {
    // Step 3: build on the runtime value.
    let pool = Pool::builder()
        .server(id, endpoint)
        .request_timeout(Duration::from_secs(5))
        .build_on(rt)?;
    let started = Instant::now();
    pool.ready(Duration::from_secs(5)).await?;
    println!(
        "ready:            {id} at {endpoint} in {:.1?}",
        started.elapsed()
    );
    properties(&pool, id).await?;
    action(&pool, id).await?;
    concurrent(&pool, id, 200).await?;
    remote_error(&pool, id).await?;
    cancel_on_drop(&pool, id).await?;
    shutdown(&pool, id).await
}

/// Reads `number`, writes a new value, reads it back, and puts the old value back.
async fn properties(pool: &Pool, id: &str) -> Result<(), BoxError> {
    let before: f64 = pool.read_property(id, "number").await?.json()?;
    let wanted = before + 41.0;
    pool.write_property(id, "number", &wanted).await?;
    let after: f64 = pool.read_property(id, "number").await?.json()?;
    pool.write_property(id, "number", &before).await?;
    if after != wanted {
        return Err(format!("number: wrote {wanted}, read back {after}").into());
    }
    println!("properties:       {id}.number = {before}, wrote {wanted}, read back {after}");
    Ok(())
}

async fn action(pool: &Pool, id: &str) -> Result<(), BoxError> {
    let sum: i64 = pool
        .invoke_action(id, "add", &json!({"a": 1, "b": 2}))
        .await?
        .json()?;
    if sum != 3 {
        return Err(format!("add(1, 2) = {sum}").into());
    }
    println!("action:           {id}.add(a=1, b=2) = {sum}");
    Ok(())
}

/// `count` requests in flight at once, each with its own value; every reply must be its own.
async fn concurrent(pool: &Pool, id: &str, count: i64) -> Result<(), BoxError> {
    let started = Instant::now();
    let mut pending = Vec::new();
    for i in 0..count {
        pending
            .push(pool.request(Request::invoke_action(id, "echo").kwargs(&json!({"value": i})))?);
    }
    let replies = join_all(pending).await;
    for (i, reply) in (0..count).zip(replies) {
        let got: i64 = reply?.json()?;
        if got != i {
            return Err(format!("echo({i}) came back as {got}").into());
        }
    }
    println!(
        "concurrent:       {count} `echo` requests in flight at once, {count} correct replies \
         in {:.1?}",
        started.elapsed()
    );
    Ok(())
}

async fn remote_error(pool: &Pool, id: &str) -> Result<(), BoxError> {
    let result = pool
        .invoke_action(id, "fail", &json!({"message": "boom"}))
        .await;
    match result {
        Err(Error::Remote { kind, message, .. }) if kind == "ValueError" && message == "boom" => {
            println!("remote error:     {id}.fail(message=\"boom\") -> {kind}: {message}");
            Ok(())
        }
        other => Err(format!("fail: expected a remote ValueError, got {other:?}").into()),
    }
}

/// Dropping a request's handle cancels it; its reply, when it comes, is dropped by the pool.
async fn cancel_on_drop(pool: &Pool, id: &str) -> Result<(), BoxError> {
    let before = pool.stats().requests;
    let pending =
        pool.request(Request::invoke_action(id, "sleep_for").kwargs(&json!({"seconds": 0.3})))?;
    let message_id = pending.message_id().unwrap_or("?").to_owned();
    // Cancel once the request has gone out, so that a real reply is coming (a request
    // cancelled before it is sent is simply never sent).
    let sent = wait_for(Duration::from_secs(3), || {
        pool.stats().requests.requests_sent > before.requests_sent
    })
    .await;
    drop(pending);
    let cancelled = pool.stats().requests.cancelled - before.cancelled;
    let late_dropped = wait_for(Duration::from_secs(3), || {
        pool.stats().requests.dropped_late > before.dropped_late
    })
    .await;
    if !sent || cancelled != 1 || !late_dropped {
        return Err(format!(
            "cancel: sent {sent}, cancelled {cancelled}, late reply dropped {late_dropped}"
        )
        .into());
    }
    println!(
        "cancel on drop:   {id}.sleep_for(0.3) dropped once sent -> cancelled; its reply \
         ({message_id}) was dropped, not delivered"
    );
    Ok(())
}

/// After shutdown every background task has ended and new requests fail `Closed`.
async fn shutdown(pool: &Pool, id: &str) -> Result<(), BoxError> {
    let stats = pool.stats();
    pool.shutdown().await;
    let tasks = pool.live_tasks();
    let after = pool.read_property(id, "number").await;
    if tasks != 0 || !matches!(after, Err(Error::Closed { .. })) {
        return Err(format!("shutdown: {tasks} tasks left, then {after:?}").into());
    }
    let r = stats.requests;
    println!(
        "shutdown:         0 tasks left, new requests fail Closed (started {}, replies {}, \
         exceptions {}, cancelled {}, late replies dropped {})",
        r.started, r.replies, r.exceptions, r.cancelled, r.dropped_late
    );
    Ok(())
}

/// Polls `done` every 10 ms for at most `limit`.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while !done() {
        if Instant::now() >= until {
            return false;
        }
        async_io::Timer::after(Duration::from_millis(10)).await;
    }
    true
}

/// `cargo test -p pool-examples` runs the same tour as `cargo run` (the example is built with
/// `test = true`), so a wrong result fails the tests, not only the exit code.
#[cfg(test)]
mod tests {
    #[test]
    fn tour_against_a_test_server() {
        super::run(&[]).expect("the tour passes");
    }
}
