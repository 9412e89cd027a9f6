//! The round-trip benchmark: the pool against a raw zeromq DEALER driven by the same runtime,
//! measured in the same run against the same server. Written once over a [`Harness`]; each
//! adapter's `benches/roundtrip.rs` is one call:
//!
//! ```ignore
//! // pool-tokio/benches/roundtrip.rs (harness = false); the Harness impls are the adapter's
//! // own, in its tests/harness/mod.rs
//! #[path = "../tests/harness/mod.rs"]
//! mod harness;
//!
//! use harness::{TokioCurrentThread, TokioMultiThread};
//! use pool_suite::bench;
//!
//! fn main() {
//!     bench::main(&[
//!         bench::runner::<TokioMultiThread>(),
//!         bench::runner::<TokioCurrentThread>(),
//!     ]);
//! }
//! ```
//!
//! `scripts/bench-runtimes.sh` runs the three adapters' benches one after another and merges
//! their JSON lines into one table.
//!
//! The server (a `pool-testkit` libzmq ROUTER with Thing `srv`, bound on tcp and ipc) runs in a
//! child process, the bench binary re-executed with `MMPOOL_BENCH_ROLE=server` (which
//! [`main`] handles first), so that the CPU time read from `/proc/self/stat` is the client's
//! alone. For each runtime and each transport it measures, raw and pool interleaved, each
//! repeated and reported as the median:
//!
//! 1. throughput with a window of requests in flight (raw: prebuilt frames, one send per
//!    receive; pool: a `FuturesUnordered` of `Pending`s refilled as each completes),
//! 2. client CPU µs per request during that run (and the server's, from `/proc/<pid>/stat`),
//! 3. sequential latency (p50 and p99) after a warm-up, raw and pool alternating in chunks.
//!
//! Each measurement runs as a task spawned on the runtime (not inside `block_on`), so on a
//! multi-thread runtime it runs on a worker like the pool's own tasks and zeromq's. A runtime
//! is started afresh (by [`Harness::block_on`]) for each transport.
//!
//! Every reply is checked (its payload must decode to 1.5) and the pool's counters are checked
//! after every run, so the numbers are of real work. A reply that does not come within 10 s
//! fails the run instead of hanging it. Output: a table, and one line per measurement prefixed
//! `JSON ` (per client a `throughput` and a `latency` line, per runtime and transport a
//! `compare` line with every figure of the table).
//!
//! # Knobs (environment)
//!
//! * `MMPOOL_BENCH_SERVER`: `testkit` (the default: a pool-testkit server with Things) or
//!   `fast` (a bare libzmq echo that answers every request with a canned REPLY, so the client's
//!   own cost is what limits throughput).
//! * `MMPOOL_BENCH_SECS`: throughput run length, default 2.
//! * `MMPOOL_BENCH_REPS`: repetitions, default 3.
//! * `MMPOOL_BENCH_WINDOW`: requests in flight, default 1000 (see below).
//! * `MMPOOL_BENCH_LAT_N`: sequential round trips, default 5000; `MMPOOL_BENCH_LAT_WARMUP`:
//!   default 500.
//! * `MMPOOL_BENCH_RUNTIMES`: comma-separated fragments of harness names (case-insensitive;
//!   `mt` and `ct` stand for tokio's `multi-thread` and `current-thread`), default every
//!   runtime of the binary. A binary none of whose runtimes is selected does nothing, so one
//!   setting can be passed to every adapter's bench.
//! * `MMPOOL_BENCH_TRANSPORTS`: `tcp`, `ipc` or both (the default).
//! * `MMPOOL_BENCH_PROFILE`: `raw` or `pool`: only one throughput run of that client, on the
//!   first selected runtime and transport, to profile with `perf record -p <pid>`.
//! * `MMPOOL_BENCH_SERVER_TIMERS=1`: see below.
//!
//! # External mode: a server this process does not start
//!
//! With `MMPOOL_BENCH_ENDPOINT=tcp://host:port` (or `ipc://...`) no server child is started and
//! the clients go to that server instead, whose id (ROUTER identity, also the Thing asked) is
//! `MMPOOL_BENCH_SERVER_ID` (default `srv`). It must answer `readproperty number` with `1.5`
//! (a testkit server, e.g. `mmpool serve --id srv --send-hwm 0`, or `pool-testkit/python/thing_server.py`)
//! and, for windows above ~500, have no send high-water mark. `scripts/bench-anchors.sh` runs
//! every adapter's bench this way against one shared server. Knobs of this mode:
//!
//! * `MMPOOL_BENCH_WINDOWS`: comma-separated in-flight windows, each measured in turn (default:
//!   `MMPOOL_BENCH_WINDOW`); the pool is sized for the largest.
//! * `MMPOOL_BENCH_CLIENTS`: any of `raw`, `pool`, `libzmq` (default all three). `libzmq` is a
//!   raw libzmq DEALER (the `zmq` crate) in a plain blocking loop with prebuilt frames; it does
//!   not depend on the runtime, so it runs once per process, after the runtimes.
//! * `MMPOOL_BENCH_SERVER_PID`: the server's pid, to report its CPU time per request.
//!
//! Per selected runtime: for each window and repetition a throughput run of the raw DEALER and
//! of the pool (each with the process's peak RSS during it, `VmHWM` reset before through
//! `/proc/self/clear_refs`), then sequential latency of both in interleaved chunks; then libzmq.
//! Output: a table, and `JSON ` lines with `metric` `external` (per runtime, client and window)
//! and `external_latency` (per runtime and client).
//!
//! # Server-side timers
//!
//! By default every request is sent with `invokation_timeout` `null` (pool:
//! `PoolBuilder::invokation_timeout(None)`; raw: the same header field). With hololinked's
//! default of 5 s the testkit server pushes one timer per request into a heap and expires it
//! 5 s later, which costs it about 1.5 µs of CPU per request and ~12 % of the throughput of
//! both clients alike (it does not change the latencies). `MMPOOL_BENCH_SERVER_TIMERS=1` keeps
//! the 5 s default in both clients.
//!
//! # The server's send high-water mark
//!
//! A testkit server, like a hololinked one, is a libzmq ROUTER with the default `ZMQ_SNDHWM`
//! of 1000 and without `ZMQ_ROUTER_MANDATORY`, so a reply that finds the pipe to its client
//! full is silently dropped; libzmq only learns how far the pipe was read every
//! `(hwm + 1) / 2 = 500` messages, so above ~500 replies outstanding a reply can be lost
//! (observed with the raw DEALER as well). That is why the pool caps requests in flight per
//! server at 500 by default (`max_in_flight_per_server`). To measure 1000 in flight against one
//! server, this benchmark's server sets `ZMQ_SNDHWM` to 0 (unlimited) and the pool raises its
//! cap to the window.

mod config;
mod external;
mod libzmq;
pub(crate) mod measure;
mod pool_client;
mod raw;
mod report;
mod server;

use std::future::Future;
use std::time::{Duration, Instant};

use pool_driver::Pool;

use crate::{spawn, Harness};
use config::{Client, Config, Transport, ROLE_VAR};
use measure::{latency_of, Latency, Throughput};
use pool_client::{
    build_pool, check_pool_stats, pool_latency, pool_throughput, pool_throughput_requests,
};
use raw::{raw_latency, raw_throughput, RawClient, RawTarget};
use report::Row;
use server::ServerProcess;

/// The id of the server the bench starts (and the default of `MMPOOL_BENCH_SERVER_ID`); its
/// Thing has the same id.
const SERVER_ID: &str = "srv";
const PROPERTY: &str = "number";
/// The testkit Thing's `number` property, and the fast server's canned payload.
const EXPECTED: f64 = 1.5;
/// How long any one reply may take before the run fails (a lost reply must not hang the bench).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The latency runs alternate raw and pool in this many chunks: on a shared machine the p50 of
/// a ping-pong can jump between modes (about 25 and 100 µs on a 2-core VM) for seconds at a
/// time, and interleaving makes such a shift hit both clients alike instead of one of them.
const LAT_CHUNKS: usize = 10;

/// One runtime to benchmark: a [`Harness`] with the benchmark instantiated for it. Made by
/// [`runner`], run by [`main`].
#[derive(Clone, Copy, Debug)]
pub struct Runner {
    name: &'static str,
    measure: fn(&Config, &ServerProcess, Transport) -> Row,
    external: fn(&Config) -> external::Rows,
    profile: fn(&Config, &ServerProcess, Transport, Client) -> Throughput,
}

impl Runner {
    /// The harness's name ([`Harness::NAME`]), as reported and as `MMPOOL_BENCH_RUNTIMES`
    /// matches it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The benchmark on harness `H`.
pub fn runner<H: Harness>() -> Runner {
    Runner {
        name: H::NAME,
        measure: measure::<H>,
        external: external::measure::<H>,
        profile: profile::<H>,
    }
}

/// The whole bench binary: in the server role (the child this function starts) it serves until
/// its parent is done; otherwise it benchmarks each of `runners` selected by
/// `MMPOOL_BENCH_RUNTIMES` on each transport, prints the report and returns. A failed check
/// panics (the server child is stopped on the way out).
pub fn main(runners: &[Runner]) {
    if std::env::var(ROLE_VAR).as_deref() == Ok("server") {
        server::serve();
        return;
    }
    let config = Config::from_env();
    let selected: Vec<&Runner> = runners.iter().filter(|r| config.selects(r.name)).collect();
    let Some(first) = selected.first() else {
        let names: Vec<&str> = runners.iter().map(Runner::name).collect();
        eprintln!("roundtrip: MMPOOL_BENCH_RUNTIMES selects none of {names:?}; nothing to run");
        return;
    };
    let started = Instant::now();
    if config.external.is_some() {
        run_external(&config, &selected, started);
        return;
    }
    let server = ServerProcess::spawn();
    eprintln!(
        "roundtrip: server pid {} on {} and {}",
        server.pid(),
        server.endpoint(Transport::Tcp),
        server.endpoint(Transport::Ipc)
    );
    if let Some(client) = config.profile {
        profile_one(&config, &server, first, client);
        return;
    }
    let mut rows = Vec::new();
    for runner in &selected {
        for &transport in &config.transports {
            eprintln!("roundtrip: {} / {}", runner.name, transport.name());
            rows.push((runner.measure)(&config, &server, transport));
        }
    }
    drop(server);
    report::report(&config, &rows);
    eprintln!(
        "roundtrip: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// External mode: every selected runtime, then libzmq, against `MMPOOL_BENCH_ENDPOINT`.
fn run_external(config: &Config, selected: &[&Runner], started: Instant) {
    let ext = config.external.as_ref().expect("external mode");
    eprintln!(
        "roundtrip: external server {} (id {}, pid {:?}); windows {:?}; clients {:?}",
        ext.endpoint,
        config.server_id,
        ext.pid,
        ext.windows,
        ext.clients.iter().map(|c| c.name()).collect::<Vec<_>>()
    );
    let mut rows = Vec::new();
    if ext
        .clients
        .iter()
        .any(|c| matches!(c, Client::Raw | Client::Pool))
    {
        for runner in selected {
            eprintln!("roundtrip: {} / external", runner.name);
            rows.push((runner.external)(config));
        }
    }
    if ext.clients.contains(&Client::Libzmq) {
        eprintln!("roundtrip: libzmq / external");
        rows.push(external::measure_libzmq(config));
    }
    report::external_report(config, &rows);
    eprintln!(
        "roundtrip: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Runs `future` as a task of `H`'s runtime and waits for its output (a panic in it is
/// resumed here).
async fn task<H: Harness, F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    spawn::<H, F>(future).await
}

/// Every repetition on `H` over `transport`, on one fresh runtime.
fn measure<H: Harness>(config: &Config, server: &ServerProcess, transport: Transport) -> Row {
    let target = RawTarget {
        endpoint: server.endpoint(transport).to_owned(),
        server_id: config.server_id,
        invokation_timeout: config.invokation_timeout,
    };
    H::block_on(measure_on::<H>(
        config,
        target,
        Some(server.pid()),
        transport,
    ))
}

async fn measure_on<H: Harness>(
    config: &Config,
    target: RawTarget,
    server_pid: Option<u32>,
    transport: Transport,
) -> Row {
    let pool = build_pool::<H::Rt>(config, &target.endpoint).await;
    let mut row = Row {
        runtime: H::NAME,
        transport,
        raw_tp: Vec::new(),
        pool_tp: Vec::new(),
        raw_lat: Vec::new(),
        pool_lat: Vec::new(),
    };
    let label = format!("{} {}", H::NAME, transport.name());
    for rep in 0..config.reps {
        // Raw and pool alternate so that drift (thermal, noisy neighbours) hits both alike.
        let t = raw_rep::<H>(config, &target, server_pid).await;
        log_throughput(&label, rep, Client::Raw, &t);
        row.raw_tp.push(t);
        let t = pool_rep::<H>(config, &pool, server_pid).await;
        log_throughput(&label, rep, Client::Pool, &t);
        row.pool_tp.push(t);

        let (r, p) = latency_rep::<H>(config, &target, &pool, (true, true)).await;
        row.raw_lat.extend(r);
        row.pool_lat.extend(p);
        if let (Some(r), Some(p)) = (row.raw_lat.last(), row.pool_lat.last()) {
            eprintln!(
                "  [{label}] rep {rep}: latency p50 raw {:.1} µs pool {:.1} µs; p99 raw {:.1} µs pool {:.1} µs",
                r.p50_us, p.p50_us, r.p99_us, p.p99_us
            );
        }
    }
    pool.shutdown().await;
    row
}

fn log_throughput(label: &str, rep: usize, client: Client, t: &Throughput) {
    eprintln!(
        "  [{label}] rep {rep}: {:<4} {:>9.0} msgs/s  {:.2} µs CPU/req",
        client.name(),
        t.msgs_per_s,
        t.client_cpu_us_per_req
    );
}

/// One raw throughput run.
async fn raw_rep<H: Harness>(
    config: &Config,
    target: &RawTarget,
    server_pid: Option<u32>,
) -> Throughput {
    let run = raw_throughput::<H>(target.clone(), config.window, config.secs, server_pid);
    let (window, client) = task::<H, _>(run).await;
    drop(client);
    window.into_throughput()
}

/// One pool throughput run, with the pool's counters checked around it.
async fn pool_rep<H: Harness>(
    config: &Config,
    pool: &Pool<H::Rt>,
    server_pid: Option<u32>,
) -> Throughput {
    let before = pool.stats();
    let run = pool_throughput(
        pool.clone(),
        config.server_id,
        config.window,
        config.secs,
        server_pid,
    );
    let window = task::<H, _>(run).await;
    let requests = pool_throughput_requests(window.completed, config.window);
    check_pool_stats(&before, &pool.stats(), requests);
    window.into_throughput()
}

/// One latency run of the wanted clients (`(raw, pool)`) after their warm-ups, in
/// [`LAT_CHUNKS`] chunks that alternate raw and pool, with the pool's counters checked around
/// it. A client that is not wanted gives `None`.
pub(crate) async fn latency_rep<H: Harness>(
    config: &Config,
    target: &RawTarget,
    pool: &Pool<H::Rt>,
    (want_raw, want_pool): (bool, bool),
) -> (Option<Latency>, Option<Latency>) {
    let before = pool.stats();
    let client = task::<H, _>(RawClient::connect(target.clone())).await;
    let (_, mut client) = task::<H, _>(raw_latency::<H>(client, config.lat_warmup)).await;
    task::<H, _>(pool_latency(
        pool.clone(),
        config.server_id,
        config.lat_warmup,
    ))
    .await;
    let (mut raw, mut pooled) = (Vec::new(), Vec::new());
    for n in chunks(config.lat_n, LAT_CHUNKS) {
        if want_raw {
            let (samples, next) = task::<H, _>(raw_latency::<H>(client, n)).await;
            client = next;
            raw.extend(samples);
        }
        if want_pool {
            pooled.extend(task::<H, _>(pool_latency(pool.clone(), config.server_id, n)).await);
        }
    }
    drop(client);
    let requests = config.lat_warmup + if want_pool { config.lat_n } else { 0 };
    check_pool_stats(&before, &pool.stats(), requests as u64);
    (
        want_raw.then(|| latency_of(raw)),
        want_pool.then(|| latency_of(pooled)),
    )
}

/// `n` split into at most `k` non-empty parts of nearly equal size.
fn chunks(n: usize, k: usize) -> impl Iterator<Item = usize> {
    (0..k)
        .map(move |i| n / k + usize::from(i < n % k))
        .filter(|&part| part > 0)
}

/// `MMPOOL_BENCH_PROFILE`: one throughput run of `client` on `H` over `transport`.
fn profile<H: Harness>(
    config: &Config,
    server: &ServerProcess,
    transport: Transport,
    client: Client,
) -> Throughput {
    let target = RawTarget {
        endpoint: server.endpoint(transport).to_owned(),
        server_id: config.server_id,
        invokation_timeout: config.invokation_timeout,
    };
    let server_pid = Some(server.pid());
    H::block_on(async {
        match client {
            Client::Raw => raw_rep::<H>(config, &target, server_pid).await,
            Client::Pool => {
                let pool = build_pool::<H::Rt>(config, &target.endpoint).await;
                let t = pool_rep::<H>(config, &pool, server_pid).await;
                pool.shutdown().await;
                t
            }
            Client::Libzmq => unreachable!("MMPOOL_BENCH_PROFILE is raw or pool"),
        }
    })
}

/// One throughput run of `client` only (first selected runtime and transport), for
/// `perf record -p <pid>` while it runs.
fn profile_one(config: &Config, server: &ServerProcess, runner: &Runner, client: Client) {
    let transport = config.transports[0];
    eprintln!(
        "roundtrip: profiling {} on {} / {} for {:.1} s, client pid {}",
        client.name(),
        runner.name,
        transport.name(),
        config.secs.as_secs_f64(),
        std::process::id()
    );
    let t = (runner.profile)(config, server, transport, client);
    println!(
        "PROFILE {} {:.0} msgs/s, client {:.2} µs CPU/req, server {:.2} µs CPU/req",
        client.name(),
        t.msgs_per_s,
        t.client_cpu_us_per_req,
        t.server_cpu_us_per_req
    );
}
