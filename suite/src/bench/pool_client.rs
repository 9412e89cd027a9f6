//! The pool under test: `pool_driver::Pool` on the harness's runtime, driven the way an
//! application would (a `FuturesUnordered` of `Pending`s, or one request after another).

use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use pool_driver::{Error, Pending, Pool, PoolStats, Reply, Request, Runtime};

use super::config::Config;
use super::measure::{check_payload, Window};
use super::{PROPERTY, REPLY_TIMEOUT};
use pool_measure::CpuMark;

/// A pool connected (handshaken) to the server at `endpoint`, on the calling runtime.
pub(crate) async fn build_pool<Rt: Runtime>(config: &Config, endpoint: &str) -> Pool<Rt> {
    let pool = Pool::<Rt>::builder()
        .server(config.server_id, endpoint)
        .capacity(config.max_window().max(1024) * 2)
        // The benchmark's server has no send high-water mark, so the pool may keep the whole
        // window in flight (see "send high-water mark" in the module documentation).
        .max_in_flight_per_server(u32::try_from(config.max_window()).unwrap_or(u32::MAX))
        .request_timeout(REPLY_TIMEOUT)
        .invokation_timeout(config.invokation_timeout)
        .build()
        .expect("build the pool");
    pool.ready(Duration::from_secs(10))
        .await
        .expect("pool ready");
    pool
}

fn pool_request<Rt: Runtime>(pool: &Pool<Rt>, thing: &str) -> Pending<Rt> {
    pool.request(Request::read_property(thing, PROPERTY))
        .expect("pool request")
}

fn check_pool_reply<Rt: Runtime>(pool: &Pool<Rt>, reply: Result<Reply, Error>) {
    let reply = reply.unwrap_or_else(|e| panic!("pool request failed: {e}; {:?}", pool.stats()));
    check_payload(reply.payload());
}

/// How many requests one [`pool_throughput`] run makes in all: the timed ones, the warm-up
/// (two windows) and the tail drained after the deadline (the window less the one that
/// ended the loop).
pub(crate) fn pool_throughput_requests(completed: u64, window: usize) -> u64 {
    let window = window as u64;
    completed + 2 * window + (window - 1)
}

/// Throughput with `window` requests in flight for `secs`, each refilled as one completes,
/// after a warm-up of two windows.
pub(crate) async fn pool_throughput<Rt: Runtime>(
    pool: Pool<Rt>,
    thing: &'static str,
    window: usize,
    secs: Duration,
    server_pid: Option<u32>,
) -> Window {
    let mut in_flight = FuturesUnordered::new();
    warm_up(&pool, thing, &mut in_flight, window).await;

    let mark = CpuMark::now(server_pid);
    let start = Instant::now();
    let deadline = start + secs;
    for _ in 0..window {
        in_flight.push(pool_request(&pool, thing));
    }
    let mut completed = 0u64;
    while let Some(reply) = in_flight.next().await {
        check_pool_reply(&pool, reply);
        completed += 1;
        if Instant::now() >= deadline {
            break;
        }
        in_flight.push(pool_request(&pool, thing));
    }
    let result = Window::since(mark, server_pid, completed, start.elapsed());
    // Drain (not timed): awaiting, not dropping, so nothing is cancelled.
    while let Some(reply) = in_flight.next().await {
        check_pool_reply(&pool, reply);
    }
    result
}

/// Two windows' worth of requests, all answered.
async fn warm_up<Rt: Runtime>(
    pool: &Pool<Rt>,
    thing: &str,
    in_flight: &mut FuturesUnordered<Pending<Rt>>,
    window: usize,
) {
    for _ in 0..window {
        in_flight.push(pool_request(pool, thing));
    }
    let mut warm = 0;
    while let Some(reply) = in_flight.next().await {
        check_pool_reply(pool, reply);
        warm += 1;
        if warm <= window {
            in_flight.push(pool_request(pool, thing));
        }
    }
}

/// `n` sequential round trips.
pub(crate) async fn pool_latency<Rt: Runtime>(
    pool: Pool<Rt>,
    thing: &'static str,
    n: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        check_pool_reply(&pool, pool.read_property(thing, PROPERTY).await);
        // Checked inside the timing, as the raw client's replies are.
        samples.push(t.elapsed());
    }
    samples
}

/// The pool did exactly `requests` requests since `before`, all answered, nothing in flight,
/// nothing dropped, no errors.
pub(crate) fn check_pool_stats(before: &PoolStats, after: &PoolStats, requests: u64) {
    let (b, a) = (&before.requests, &after.requests);
    assert_eq!(after.in_flight, 0, "requests still in flight");
    assert_eq!(a.started - b.started, requests, "requests started");
    assert_eq!(a.ended - b.ended, requests, "requests ended");
    assert_eq!(a.replies - b.replies, requests, "requests answered");
    assert_eq!(a.requests_sent - b.requests_sent, requests, "requests sent");
    assert_eq!(a.dropped_total(), b.dropped_total(), "dropped messages");
    assert_eq!(a.servers_lost, b.servers_lost, "servers lost");
    assert_eq!(after.recv_errors, before.recv_errors, "receive errors");
    assert_eq!(
        after.stale_messages, before.stale_messages,
        "stale messages"
    );
    assert_eq!(after.servers_ready, 1, "server not ready");
}
