//! Round-trip benchmark: pool-tokio against a raw zeromq DEALER, measured in the same run
//! against the same server.
//!
//! The server (a `pool-testkit` libzmq ROUTER with Thing `srv`, bound on tcp and ipc) runs in a
//! child process, this binary re-executed with `MMPOOL_BENCH_ROLE=server`, so that the CPU time
//! read from `/proc/self/stat` is the client's alone. For each tokio runtime (multi-thread with 2
//! workers, current-thread) and each transport it measures, raw and pool interleaved, each
//! repeated and reported as the median:
//!
//! 1. throughput with a window of requests in flight (raw: prebuilt frames, one send per
//!    receive; pool: a `FuturesUnordered` of `Pending`s refilled as each completes),
//! 2. client CPU µs per request during that run (and the server's, from `/proc/<pid>/stat`),
//! 3. sequential latency (p50 and p99) after a warm-up.
//!
//! Every reply is checked (its payload must decode to 1.5) and the pool's counters are checked
//! after every run, so the numbers are of real work. Output: a table, and one line per
//! measurement prefixed `JSON `.
//!
//! Knobs (environment): `MMPOOL_BENCH_SERVER` (`testkit`, the default: a pool-testkit server
//! with Things; `fast`: a bare libzmq echo that answers every request with a canned REPLY, so
//! the client's own cost is what limits throughput), `MMPOOL_BENCH_SECS` (throughput run length, default 2),
//! `MMPOOL_BENCH_REPS` (default 3), `MMPOOL_BENCH_WINDOW` (in flight, default 1000; see below),
//! `MMPOOL_BENCH_LAT_N` (round trips, default 5000), `MMPOOL_BENCH_LAT_WARMUP` (default 500),
//! `MMPOOL_BENCH_RUNTIMES` (`mt`, `ct` or `mt,ct`, default both), `MMPOOL_BENCH_TRANSPORTS`
//! (`tcp`, `ipc` or both, default both), `MMPOOL_BENCH_PROFILE` (`raw` or `pool`: only one
//! throughput run of that client, on the first runtime and transport, to profile with
//! `perf record -p <pid>`).
//!
//! Server-side timers: by default every request is sent with `invokation_timeout` `null`
//! (pool: `PoolBuilder::invokation_timeout(None)`; raw: the same header field). With
//! hololinked's default of 5 s the testkit server pushes one timer per request into a heap and
//! expires it 5 s later, which costs it about 1.5 µs of CPU per request and ~12 % of the
//! throughput of both clients alike (it does not change the latencies).
//! `MMPOOL_BENCH_SERVER_TIMERS=1` keeps the 5 s default in both clients.
//!
//! The server's send high-water mark: a testkit server, like a hololinked one, is a libzmq
//! ROUTER with the default `ZMQ_SNDHWM` of 1000 and without `ZMQ_ROUTER_MANDATORY`, so a reply
//! that finds the pipe to its client full is silently dropped; libzmq only learns how far the
//! pipe was read every `(hwm + 1) / 2 = 500` messages, so above ~500 replies outstanding a reply
//! can be lost (observed with the raw DEALER as well). That is why the pool caps requests in
//! flight per server at 500 by default (`max_in_flight_per_server`). To measure 1000 in flight
//! against one server, this benchmark's server sets `ZMQ_SNDHWM` to 0 (unlimited) and the pool
//! raises its cap to the window.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use pool_testkit::{ServerConfig, TestServer};
use pool_tokio::pool_core::wire::{
    encode_request, KeyStyle, RequestFields, RequestHeader, RequestKind,
};
use pool_tokio::{Pool, PoolStats, Request};
use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

const ROLE_VAR: &str = "MMPOOL_BENCH_ROLE";
const SERVER_ID: &str = "srv";
const THING: &str = "srv";
const PROPERTY: &str = "number";
const EXPECTED: f64 = 1.5;

fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok("server") {
        serve();
        return;
    }
    run_benchmarks();
}

// ----- configuration --------------------------------------------------------------------------

struct Config {
    secs: Duration,
    reps: usize,
    window: usize,
    lat_n: usize,
    lat_warmup: usize,
    runtimes: Vec<Flavor>,
    transports: Vec<Transport>,
    clk_tck: f64,
    /// The `invokation_timeout` sent with every request.
    invokation_timeout: Option<Duration>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

impl Config {
    fn from_env() -> Config {
        let secs: f64 = env_or("MMPOOL_BENCH_SECS", 2.0);
        assert!(secs > 0.0, "MMPOOL_BENCH_SECS must be positive");
        let runtimes = env_or("MMPOOL_BENCH_RUNTIMES", "mt,ct".to_owned());
        let transports = env_or("MMPOOL_BENCH_TRANSPORTS", "tcp,ipc".to_owned());
        let config = Config {
            secs: Duration::from_secs_f64(secs),
            reps: env_or("MMPOOL_BENCH_REPS", 3usize).max(1),
            window: env_or("MMPOOL_BENCH_WINDOW", 1000usize).max(1),
            lat_n: env_or("MMPOOL_BENCH_LAT_N", 5000usize).max(1),
            lat_warmup: env_or("MMPOOL_BENCH_LAT_WARMUP", 500usize),
            runtimes: runtimes
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| match s.trim() {
                    "mt" => Flavor::MultiThread2,
                    "ct" => Flavor::CurrentThread,
                    other => panic!("unknown runtime {other:?} (mt, ct)"),
                })
                .collect(),
            transports: transports
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| match s.trim() {
                    "tcp" => Transport::Tcp,
                    "ipc" => Transport::Ipc,
                    other => panic!("unknown transport {other:?} (tcp, ipc)"),
                })
                .collect(),
            clk_tck: clock_ticks_per_second(),
            invokation_timeout: if env_or("MMPOOL_BENCH_SERVER_TIMERS", 0u8) != 0 {
                Some(Duration::from_secs(5))
            } else {
                None
            },
        };
        assert!(!config.runtimes.is_empty() && !config.transports.is_empty());
        config
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MultiThread2,
    CurrentThread,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::MultiThread2 => "multi_thread_2",
            Flavor::CurrentThread => "current_thread",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Flavor::MultiThread2 => "mt2",
            Flavor::CurrentThread => "ct",
        }
    }

    fn build(self) -> tokio::runtime::Runtime {
        let mut builder = match self {
            Flavor::MultiThread2 => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2);
                b
            }
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        };
        builder.enable_all().build().expect("tokio runtime")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Ipc,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
        }
    }
}

// ----- the server process ---------------------------------------------------------------------

/// Child role: run the server chosen by `MMPOOL_BENCH_SERVER` until stdin closes.
fn serve() {
    if std::env::var("MMPOOL_BENCH_SERVER").as_deref() == Ok("fast") {
        serve_fast();
    } else {
        serve_testkit();
    }
}

/// A minimal hololinked-shaped echo server (one libzmq ROUTER per transport, no JSON parsing,
/// no Thing): it answers every request with a REPLY carrying the request's `messageID` and the
/// payload `1.5`. With it the server is not the bottleneck, so the client's own cost shows.
fn serve_fast() {
    let ctx = zmq::Context::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let ipc = format!("ipc://{}/fast.ipc", dir.path().display());
    let mut endpoints = Vec::new();
    let mut threads = Vec::new();
    for bind in ["tcp://127.0.0.1:0".to_owned(), ipc] {
        let router = ctx.socket(zmq::ROUTER).expect("router");
        router.set_identity(SERVER_ID.as_bytes()).expect("identity");
        router.set_sndhwm(0).expect("sndhwm");
        router.set_rcvhwm(0).expect("rcvhwm");
        router.set_linger(0).expect("linger");
        router.bind(&bind).expect("bind");
        endpoints.push(
            router
                .get_last_endpoint()
                .expect("endpoint")
                .expect("utf-8 endpoint"),
        );
        threads.push(std::thread::spawn(move || fast_echo(&router)));
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {} {}", endpoints[0], endpoints[1]).expect("write READY");
        out.flush().expect("flush READY");
    }
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    // The echo threads block in recv; the process exits with them.
    drop(threads);
    drop(dir);
    std::process::exit(0);
}

fn fast_echo(router: &zmq::Socket) {
    const KEY: &[u8] = b"\"messageID\":\"";
    loop {
        let Ok(frames) = router.recv_multipart(0) else {
            return;
        };
        let [identity, _, header, ..] = frames.as_slice() else {
            continue;
        };
        let Some(at) = header.windows(KEY.len()).position(|w| w == KEY) else {
            continue;
        };
        let Some(id) = header.get(at + KEY.len()..at + KEY.len() + 36) else {
            continue;
        };
        let id = String::from_utf8_lossy(id);
        let kind = if header.windows(11).any(|w| w == b"\"HANDSHAKE\"") {
            "HANDSHAKE"
        } else {
            "REPLY"
        };
        let reply = format!(
            "{{\"messageType\":\"{kind}\",\"messageID\":\"{id}\",\"receiverID\":\"\",\"senderID\":\"{SERVER_ID}\",\"payloadContentType\":\"application/json\",\"preencodedPayloadContentType\":\"text/plain\"}}"
        );
        let payload: &[u8] = if kind == "REPLY" { b"1.5" } else { b"null" };
        let parts: [&[u8]; 5] = [identity, b"", reply.as_bytes(), payload, b""];
        if router.send_multipart(parts, 0).is_err() {
            return;
        }
    }
}

/// Child role: run a testkit server on tcp and ipc until stdin closes.
fn serve_testkit() {
    let server = TestServer::start(
        ServerConfig::builder(SERVER_ID)
            .tcp()
            .ipc()
            .send_hwm(0)
            .build(),
    )
    .expect("start the test server");
    let tcp = server.tcp_endpoint().expect("tcp endpoint").to_owned();
    let ipc = server.ipc_endpoint().expect("ipc endpoint").to_owned();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {tcp} {ipc}").expect("write READY");
        out.flush().expect("flush READY");
    }
    // Serve until the parent closes our stdin (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    let stats = server.stats();
    eprintln!(
        "roundtrip server: received {} (by type {:?}), replied {} (by type {:?}), dropped {}",
        stats.received, stats.received_by_type, stats.replied, stats.replied_by_type, stats.dropped
    );
    drop(server);
}

/// The server child; closing its stdin stops it, and it is killed if it does not stop.
struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    _stdout: BufReader<ChildStdout>,
    tcp: String,
    ipc: String,
}

impl ServerProcess {
    fn spawn() -> ServerProcess {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .env(ROLE_VAR, "server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the server process");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let mut process = ServerProcess {
            child,
            stdin,
            _stdout: stdout,
            tcp: String::new(),
            ipc: String::new(),
        };
        // `process` is dropped (child stopped) if any of this panics.
        read.expect("read the server's READY line");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("READY"), "server said {line:?}");
        process.tcp = words.next().expect("tcp endpoint").to_owned();
        process.ipc = words.next().expect("ipc endpoint").to_owned();
        process
    }

    fn endpoint(&self, transport: Transport) -> &str {
        match transport {
            Transport::Tcp => &self.tcp,
            Transport::Ipc => &self.ipc,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- CPU time -------------------------------------------------------------------------------

/// `getconf CLK_TCK`, or 100 (Linux's USER_HZ) when it cannot be asked.
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` file, in clock ticks.
fn cpu_ticks_of(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    // The command name (field 2) may contain spaces: count fields after its closing paren.
    let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state), so field 14 is rest[11] and field 15 is rest[12].
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

fn client_cpu_ticks() -> u64 {
    cpu_ticks_of("/proc/self/stat")
}

// ----- measurements ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Raw,
    Pool,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Raw => "raw",
            Client::Pool => "pool",
        }
    }
}

/// One throughput run.
#[derive(Clone, Copy)]
struct Throughput {
    msgs_per_s: f64,
    client_cpu_us_per_req: f64,
    server_cpu_us_per_req: f64,
}

/// One latency run.
#[derive(Clone, Copy)]
struct Latency {
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
}

/// What one throughput loop reports (CPU is read around it by the caller's helpers).
struct Window {
    completed: u64,
    elapsed: Duration,
    client_ticks: u64,
    server_ticks: u64,
}

impl Window {
    fn into_throughput(self, clk_tck: f64) -> Throughput {
        let n = self.completed.max(1) as f64;
        let per_req = |ticks: u64| ticks as f64 / clk_tck * 1e6 / n;
        Throughput {
            msgs_per_s: self.completed as f64 / self.elapsed.as_secs_f64(),
            client_cpu_us_per_req: per_req(self.client_ticks),
            server_cpu_us_per_req: per_req(self.server_ticks),
        }
    }
}

fn latency_of(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    let total: Duration = samples.iter().sum();
    let mean_us = total.as_secs_f64() * 1e6 / samples.len() as f64;
    let pick = |q: f64| {
        let i = ((samples.len() as f64 * q) as usize).min(samples.len() - 1);
        samples[i].as_secs_f64() * 1e6
    };
    Latency {
        p50_us: pick(0.50),
        p99_us: pick(0.99),
        mean_us,
    }
}

fn check_payload(payload: &[u8]) {
    let value: f64 = serde_json::from_slice(payload)
        .unwrap_or_else(|e| panic!("reply payload {payload:?} is not a number: {e}"));
    assert!(value == EXPECTED, "reply payload {value} != {EXPECTED}");
}

fn check_pool_reply(pool: &Pool, reply: Result<pool_tokio::Reply, pool_tokio::Error>) {
    let reply = reply.unwrap_or_else(|e| panic!("pool request failed: {e}; {:?}", pool.stats()));
    check_payload(reply.payload());
}

// ----- raw zeromq DEALER ----------------------------------------------------------------------

/// The 4 frames of a `readproperty srv.number` request from `identity`, built once.
fn raw_request(identity: &str, invokation_timeout: Option<Duration>) -> ZmqMessage {
    let mut fields = RequestFields::new(THING, "readproperty", PROPERTY);
    fields.server_context.invokation_timeout = invokation_timeout.map(Into::into);
    let header = RequestHeader {
        kind: RequestKind::Operation,
        message_id: "5f0c6e1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
        sender_id: identity,
        receiver_id: SERVER_ID,
        key_style: KeyStyle::Both,
        fields,
    };
    let mut buf = vec![0u8; 4096];
    let len = encode_request(&header, &mut buf).expect("encode the request header");
    buf.truncate(len);
    ZmqMessage::try_from(vec![
        Bytes::new(),
        Bytes::from(buf),
        Bytes::from_static(b"null"),
        Bytes::new(),
    ])
    .expect("4 frames")
}

/// How long any one reply may take before the run fails (a lost reply must not hang the bench).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The next reply on a raw socket, checked.
async fn raw_recv(socket: &mut DealerSocket) {
    let message = tokio::time::timeout(REPLY_TIMEOUT, socket.recv())
        .await
        .unwrap_or_else(|_| panic!("raw: no reply within {REPLY_TIMEOUT:?}"))
        .expect("raw recv");
    check_raw_reply(message);
}

fn check_raw_reply(message: ZmqMessage) {
    assert_eq!(message.len(), 4, "raw reply has {} frames", message.len());
    check_payload(message.get(2).expect("payload frame"));
}

/// Where the raw client connects and what it sends.
#[derive(Clone)]
struct RawTarget {
    endpoint: String,
    invokation_timeout: Option<Duration>,
}

/// A connected raw DEALER with a fresh identity (a libzmq ROUTER without handover ignores a
/// second connection under an identity it still knows), and its prebuilt request.
async fn raw_socket(target: &RawTarget) -> (DealerSocket, ZmqMessage) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let identity = format!(
        "bench-raw-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut options = SocketOptions::default();
    options.peer_identity(identity.parse().expect("identity"));
    options.connect_timeout(Duration::from_secs(5));
    let mut socket = DealerSocket::with_options(options);
    socket.connect(&target.endpoint).await.expect("raw connect");
    let request = raw_request(&identity, target.invokation_timeout);
    (socket, request)
}

async fn raw_throughput(
    target: RawTarget,
    window: usize,
    secs: Duration,
    server: u32,
) -> (Window, DealerSocket) {
    let (mut socket, request) = raw_socket(&target).await;
    // Warm-up: two windows' worth, pipelined.
    for _ in 0..window {
        socket.send(request.clone()).await.expect("raw send");
    }
    for _ in 0..window {
        raw_recv(&mut socket).await;
        socket.send(request.clone()).await.expect("raw send");
    }
    for _ in 0..window {
        raw_recv(&mut socket).await;
    }

    let server_stat = format!("/proc/{server}/stat");
    let (cpu0, scpu0) = (client_cpu_ticks(), cpu_ticks_of(&server_stat));
    let start = Instant::now();
    let deadline = start + secs;
    for _ in 0..window {
        socket.send(request.clone()).await.expect("raw send");
    }
    let mut outstanding = window;
    let mut completed = 0u64;
    loop {
        raw_recv(&mut socket).await;
        outstanding -= 1;
        completed += 1;
        if Instant::now() >= deadline {
            break;
        }
        socket.send(request.clone()).await.expect("raw send");
        outstanding += 1;
    }
    let elapsed = start.elapsed();
    let (cpu1, scpu1) = (client_cpu_ticks(), cpu_ticks_of(&server_stat));
    // Drain what is still in flight (not timed) so the next run starts with an idle server.
    for _ in 0..outstanding {
        raw_recv(&mut socket).await;
    }
    let result = Window {
        completed,
        elapsed,
        client_ticks: cpu1 - cpu0,
        server_ticks: scpu1 - scpu0,
    };
    (result, socket)
}

async fn raw_latency(target: RawTarget, warmup: usize, n: usize) -> (Vec<Duration>, DealerSocket) {
    let (mut socket, request) = raw_socket(&target).await;
    for _ in 0..warmup {
        socket.send(request.clone()).await.expect("raw send");
        raw_recv(&mut socket).await;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        socket.send(request.clone()).await.expect("raw send");
        raw_recv(&mut socket).await;
        samples.push(t.elapsed());
    }
    (samples, socket)
}

// ----- pool-tokio -----------------------------------------------------------------------------

fn pool_request(pool: &Pool) -> pool_tokio::Pending {
    pool.request(Request::read_property(THING, PROPERTY))
        .expect("pool request")
}

async fn pool_throughput(pool: Pool, window: usize, secs: Duration, server: u32) -> Window {
    let mut in_flight = FuturesUnordered::new();
    // Warm-up: two windows' worth.
    for _ in 0..window {
        in_flight.push(pool_request(&pool));
    }
    let mut warm = 0;
    while let Some(reply) = in_flight.next().await {
        check_pool_reply(&pool, reply);
        warm += 1;
        if warm <= window {
            in_flight.push(pool_request(&pool));
        }
    }

    let server_stat = format!("/proc/{server}/stat");
    let (cpu0, scpu0) = (client_cpu_ticks(), cpu_ticks_of(&server_stat));
    let start = Instant::now();
    let deadline = start + secs;
    for _ in 0..window {
        in_flight.push(pool_request(&pool));
    }
    let mut completed = 0u64;
    while let Some(reply) = in_flight.next().await {
        check_pool_reply(&pool, reply);
        completed += 1;
        if Instant::now() >= deadline {
            break;
        }
        in_flight.push(pool_request(&pool));
    }
    let elapsed = start.elapsed();
    let (cpu1, scpu1) = (client_cpu_ticks(), cpu_ticks_of(&server_stat));
    // Drain (not timed): awaiting, not dropping, so nothing is cancelled.
    while let Some(reply) = in_flight.next().await {
        check_pool_reply(&pool, reply);
    }
    Window {
        completed,
        elapsed,
        client_ticks: cpu1 - cpu0,
        server_ticks: scpu1 - scpu0,
    }
}

async fn pool_latency(pool: Pool, warmup: usize, n: usize) -> Vec<Duration> {
    for _ in 0..warmup {
        check_pool_reply(&pool, pool.read_property(THING, PROPERTY).await);
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        check_pool_reply(&pool, pool.read_property(THING, PROPERTY).await);
        // Checked inside the timing, as the raw client's replies are.
        samples.push(t.elapsed());
    }
    samples
}

/// The pool did exactly `replies` requests since `before`, all answered, nothing in flight,
/// nothing dropped, no errors.
fn check_pool_stats(before: &PoolStats, after: &PoolStats, replies: u64) {
    let (b, a) = (&before.requests, &after.requests);
    assert_eq!(after.in_flight, 0, "requests still in flight");
    assert_eq!(a.started - b.started, replies, "requests started");
    assert_eq!(a.ended - b.ended, replies, "requests ended");
    assert_eq!(a.replies - b.replies, replies, "requests answered");
    assert_eq!(a.requests_sent - b.requests_sent, replies, "requests sent");
    assert_eq!(a.dropped_total(), b.dropped_total(), "dropped messages");
    assert_eq!(a.servers_lost, b.servers_lost, "servers lost");
    assert_eq!(after.recv_errors, before.recv_errors, "receive errors");
    assert_eq!(
        after.stale_messages, before.stale_messages,
        "stale messages"
    );
    assert_eq!(after.servers_ready, 1, "server not ready");
}

// ----- driver ---------------------------------------------------------------------------------

struct Row {
    runtime: Flavor,
    transport: Transport,
    raw_tp: Vec<Throughput>,
    pool_tp: Vec<Throughput>,
    raw_lat: Vec<Latency>,
    pool_lat: Vec<Latency>,
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn med<T>(v: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(v.iter().map(f).collect())
}

/// Runs `future` as a task on `rt` (on a worker thread for the multi-thread runtime).
fn run_on<F>(rt: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(rt.spawn(future))
        .expect("benchmark task panicked")
}

/// A pool on `rt` connected (handshaken) to the server at `endpoint`.
fn build_pool(rt: &tokio::runtime::Runtime, config: &Config, endpoint: &str) -> Pool {
    rt.block_on(async {
        let pool = Pool::builder()
            .server(SERVER_ID, endpoint)
            .capacity(config.window.max(1024) * 2)
            .max_in_flight_per_server(u32::try_from(config.window).unwrap_or(u32::MAX))
            .request_timeout(REPLY_TIMEOUT)
            .invokation_timeout(config.invokation_timeout)
            .build()
            .expect("build the pool");
        pool.ready(Duration::from_secs(10))
            .await
            .expect("pool ready");
        pool
    })
}

/// `MMPOOL_BENCH_PROFILE=raw|pool`: one throughput run of one client only (first runtime and
/// transport configured), for `perf record -p <pid>` while it runs.
fn profile(config: &Config, server: &ServerProcess, client: &str) {
    let (flavor, transport) = (config.runtimes[0], config.transports[0]);
    let rt = flavor.build();
    let endpoint = server.endpoint(transport).to_owned();
    let server_pid = server.child.id();
    eprintln!(
        "roundtrip: profiling {client} on {} / {} for {:.1} s, client pid {}",
        flavor.name(),
        transport.name(),
        config.secs.as_secs_f64(),
        std::process::id()
    );
    let window = match client {
        "raw" => {
            let raw = RawTarget {
                endpoint,
                invokation_timeout: config.invokation_timeout,
            };
            run_on(
                &rt,
                raw_throughput(raw, config.window, config.secs, server_pid),
            )
            .0
        }
        "pool" => {
            let pool = build_pool(&rt, config, &endpoint);
            let window = run_on(
                &rt,
                pool_throughput(pool.clone(), config.window, config.secs, server_pid),
            );
            rt.block_on(pool.shutdown());
            window
        }
        other => panic!("MMPOOL_BENCH_PROFILE={other:?}: raw or pool"),
    };
    let t = window.into_throughput(config.clk_tck);
    println!(
        "PROFILE {client} {:.0} msgs/s, client {:.2} µs CPU/req, server {:.2} µs CPU/req",
        t.msgs_per_s, t.client_cpu_us_per_req, t.server_cpu_us_per_req
    );
}

fn measure(config: &Config, server: &ServerProcess, flavor: Flavor, transport: Transport) -> Row {
    let rt = flavor.build();
    let endpoint = server.endpoint(transport).to_owned();
    let server_pid = server.child.id();
    let raw = RawTarget {
        endpoint: endpoint.clone(),
        invokation_timeout: config.invokation_timeout,
    };
    let pool = build_pool(&rt, config, &endpoint);
    let mut row = Row {
        runtime: flavor,
        transport,
        raw_tp: Vec::new(),
        pool_tp: Vec::new(),
        raw_lat: Vec::new(),
        pool_lat: Vec::new(),
    };
    let label = format!("{} {}", flavor.short(), transport.name());
    for rep in 0..config.reps {
        // Raw and pool alternate so that drift (thermal, noisy neighbours) hits both alike.
        let (window, socket) = run_on(
            &rt,
            raw_throughput(raw.clone(), config.window, config.secs, server_pid),
        );
        drop(socket);
        let t = window.into_throughput(config.clk_tck);
        eprintln!(
            "  [{label}] rep {rep}: raw  {:>9.0} msgs/s  {:.2} µs CPU/req",
            t.msgs_per_s, t.client_cpu_us_per_req
        );
        row.raw_tp.push(t);

        let before = pool.stats();
        let window = run_on(
            &rt,
            pool_throughput(pool.clone(), config.window, config.secs, server_pid),
        );
        let after = pool.stats();
        let total = window.completed + 2 * config.window as u64 + (config.window as u64 - 1);
        // completed + warm-up (2 windows) + the drained tail (window - 1 after the break).
        check_pool_stats(&before, &after, total);
        let t = window.into_throughput(config.clk_tck);
        eprintln!(
            "  [{label}] rep {rep}: pool {:>9.0} msgs/s  {:.2} µs CPU/req",
            t.msgs_per_s, t.client_cpu_us_per_req
        );
        row.pool_tp.push(t);

        let (samples, socket) = run_on(
            &rt,
            raw_latency(raw.clone(), config.lat_warmup, config.lat_n),
        );
        drop(socket);
        row.raw_lat.push(latency_of(samples));

        let before = pool.stats();
        let samples = run_on(
            &rt,
            pool_latency(pool.clone(), config.lat_warmup, config.lat_n),
        );
        check_pool_stats(
            &before,
            &pool.stats(),
            (config.lat_warmup + config.lat_n) as u64,
        );
        row.pool_lat.push(latency_of(samples));
        let (r, p) = (row.raw_lat[rep], row.pool_lat[rep]);
        eprintln!(
            "  [{label}] rep {rep}: latency p50 raw {:.1} µs pool {:.1} µs; p99 raw {:.1} µs pool {:.1} µs",
            r.p50_us, p.p50_us, r.p99_us, p.p99_us
        );
    }
    rt.block_on(pool.shutdown());
    drop(pool);
    rt.shutdown_timeout(Duration::from_secs(2));
    row
}

fn list(v: &[f64], decimals: usize) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.decimals$}")).collect();
    format!("[{}]", items.join(","))
}

fn report(config: &Config, rows: &[Row]) {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\nroundtrip: pool-tokio vs raw zeromq DEALER; {} server in a separate process; \
         medians of {} reps; {} in flight for {:.1} s; latency {} round trips after {} warm-up; \
         invokation_timeout {:?}",
        std::env::var("MMPOOL_BENCH_SERVER").unwrap_or_else(|_| "testkit".into()),
        config.reps,
        config.window,
        config.secs.as_secs_f64(),
        config.lat_n,
        config.lat_warmup,
        config.invokation_timeout
    );
    let _ = writeln!(
        table,
        "{:<15} {:<4} | {:>10} {:>10} {:>6} | {:>8} {:>8} | {:>8} {:>8} | {:>8} {:>8} {:>7} | {:>8} {:>8}",
        "runtime",
        "tr",
        "raw msg/s",
        "pool msg/s",
        "ratio",
        "raw cpu",
        "pool cpu",
        "raw srv",
        "pool srv",
        "raw p50",
        "pool p50",
        "Δp50",
        "raw p99",
        "pool p99"
    );
    let _ = writeln!(
        table,
        "{:<15} {:<4} | {:>10} {:>10} {:>6} | {:>8} {:>8} | {:>8} {:>8} | {:>8} {:>8} {:>7} | {:>8} {:>8}",
        "", "", "", "", "", "µs/req", "µs/req", "µs/req", "µs/req", "µs", "µs", "µs", "µs", "µs"
    );
    let mut json = Vec::new();
    for row in rows {
        let raw_tp = med(&row.raw_tp, |t| t.msgs_per_s);
        let pool_tp = med(&row.pool_tp, |t| t.msgs_per_s);
        let raw_cpu = med(&row.raw_tp, |t| t.client_cpu_us_per_req);
        let pool_cpu = med(&row.pool_tp, |t| t.client_cpu_us_per_req);
        let raw_srv = med(&row.raw_tp, |t| t.server_cpu_us_per_req);
        let pool_srv = med(&row.pool_tp, |t| t.server_cpu_us_per_req);
        let raw_p50 = med(&row.raw_lat, |l| l.p50_us);
        let pool_p50 = med(&row.pool_lat, |l| l.p50_us);
        let raw_p99 = med(&row.raw_lat, |l| l.p99_us);
        let pool_p99 = med(&row.pool_lat, |l| l.p99_us);
        let ratio = pool_tp / raw_tp;
        let delta = pool_p50 - raw_p50;
        let _ = writeln!(
            table,
            "{:<15} {:<4} | {:>10.0} {:>10.0} {:>6.3} | {:>8.2} {:>8.2} | {:>8.2} {:>8.2} | {:>8.1} {:>8.1} {:>+7.1} | {:>8.1} {:>8.1}",
            row.runtime.name(),
            row.transport.name(),
            raw_tp,
            pool_tp,
            ratio,
            raw_cpu,
            pool_cpu,
            raw_srv,
            pool_srv,
            raw_p50,
            pool_p50,
            delta,
            raw_p99,
            pool_p99
        );
        let (rt, tr) = (row.runtime.name(), row.transport.name());
        for (client, tp, lat) in [
            (Client::Raw, &row.raw_tp, &row.raw_lat),
            (Client::Pool, &row.pool_tp, &row.pool_lat),
        ] {
            let rates: Vec<f64> = tp.iter().map(|t| t.msgs_per_s).collect();
            let cpus: Vec<f64> = tp.iter().map(|t| t.client_cpu_us_per_req).collect();
            let srvs: Vec<f64> = tp.iter().map(|t| t.server_cpu_us_per_req).collect();
            json.push(format!(
                "{{\"bench\":\"roundtrip\",\"metric\":\"throughput\",\"runtime\":\"{rt}\",\"transport\":\"{tr}\",\"client\":\"{}\",\"in_flight\":{},\"secs\":{},\"msgs_per_s\":{:.1},\"client_cpu_us_per_req\":{:.3},\"server_cpu_us_per_req\":{:.3},\"reps_msgs_per_s\":{},\"reps_client_cpu_us_per_req\":{},\"reps_server_cpu_us_per_req\":{}}}",
                client.name(),
                config.window,
                config.secs.as_secs_f64(),
                median(rates.clone()),
                median(cpus.clone()),
                median(srvs.clone()),
                list(&rates, 1),
                list(&cpus, 3),
                list(&srvs, 3),
            ));
            let p50s: Vec<f64> = lat.iter().map(|l| l.p50_us).collect();
            let p99s: Vec<f64> = lat.iter().map(|l| l.p99_us).collect();
            let means: Vec<f64> = lat.iter().map(|l| l.mean_us).collect();
            json.push(format!(
                "{{\"bench\":\"roundtrip\",\"metric\":\"latency\",\"runtime\":\"{rt}\",\"transport\":\"{tr}\",\"client\":\"{}\",\"n\":{},\"warmup\":{},\"p50_us\":{:.2},\"p99_us\":{:.2},\"mean_us\":{:.2},\"reps_p50_us\":{},\"reps_p99_us\":{},\"reps_mean_us\":{}}}",
                client.name(),
                config.lat_n,
                config.lat_warmup,
                median(p50s.clone()),
                median(p99s.clone()),
                median(means.clone()),
                list(&p50s, 2),
                list(&p99s, 2),
                list(&means, 2),
            ));
        }
        json.push(format!(
            "{{\"bench\":\"roundtrip\",\"metric\":\"compare\",\"runtime\":\"{rt}\",\"transport\":\"{tr}\",\"throughput_ratio\":{ratio:.4},\"throughput_ratio_goal\":0.85,\"throughput_ok\":{},\"p50_delta_us\":{delta:.2},\"p50_delta_goal_us\":15,\"p50_ok\":{},\"cpu_us_per_req_raw\":{raw_cpu:.3},\"cpu_us_per_req_pool\":{pool_cpu:.3}}}",
            ratio >= 0.85,
            delta <= 15.0,
        ));
    }
    let _ = writeln!(
        table,
        "ratio = pool/raw throughput (goal ≥ 0.85); Δp50 = pool − raw (goal ≤ +15 µs); cpu = this \
         process's utime+stime per request during the timed window (clock tick {:.0} Hz); srv = \
         the server process's",
        config.clk_tck
    );
    println!("{table}");
    for line in json {
        println!("JSON {line}");
    }
}

fn run_benchmarks() {
    let config = Config::from_env();
    let started = Instant::now();
    let server = ServerProcess::spawn();
    eprintln!(
        "roundtrip: server pid {} on {} and {}",
        server.child.id(),
        server.tcp,
        server.ipc
    );
    if let Ok(client) = std::env::var("MMPOOL_BENCH_PROFILE") {
        profile(&config, &server, &client);
        return;
    }
    let mut rows = Vec::new();
    for &flavor in &config.runtimes {
        for &transport in &config.transports {
            eprintln!("roundtrip: {} / {}", flavor.name(), transport.name());
            rows.push(measure(&config, &server, flavor, transport));
        }
    }
    drop(server);
    report(&config, &rows);
    eprintln!(
        "roundtrip: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
