//! `mmpool bench`: throughput and latency of the pool (on tokio) against hololinked servers or
//! embedded testkit servers, every reply checked.
//!
//! A closed loop keeps `--inflight` requests in flight (a `FuturesUnordered` of the pool's
//! `Pending`s in one task, each refilled as one completes, cycling over the Things), first for
//! `--warmup` seconds untimed, then for `--duration` seconds measured; what is still in flight
//! then is awaited (never cancelled) and checked too. The latency of a request is from the
//! call that makes it to its checked reply, so with `--inflight 1` it is the sequential round
//! trip and with more it includes the queueing behind the others.

mod load;
mod number;
mod report;
mod target;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::args::{count, positive_seconds, seconds, ServerArg, ThingArg, MAX_INFLIGHT};
use crate::escape::{escape_controls, json_text};
use crate::outcome::{message_of, Exit};
use crate::output::{stderr_line, stderr_text, write_failed, write_stdout};
use load::{Load, Operation, Progress};
use pool_tokio::Error;
use report::Summary;
use target::{Target, Transport, DEFAULT_MAX_IN_FLIGHT_PER_SERVER};

const BENCH_HELP: &str = "\
Requests: `--request number` (default) reads property `number` and checks the reply is a JSON \
number; `--request echo` invokes action `echo` with {\"value\": <sequence number>} and checks the \
same number comes back. Both exist on testkit servers and on real hololinked Things that have \
them (pool-testkit/python/thing_server.py). Every reply is checked; failures are counted by kind, never \
dropped silently.

Report: throughput (good replies per second in the timed window), latency p50/p90/p99/max (from \
making the request to its checked reply: with --inflight 1 the sequential round trip, with more \
it includes queueing), client CPU µs per request (this process's threads' run time from \
/proc/self/task/*/schedstat, less the embedded servers' threads), server CPU (embedded servers' \
threads, or the process --server-pid from /proc/PID/stat), peak RSS (VmHWM) and errors; \
CPU and RSS come from Linux's /proc, and elsewhere are not measured (CPU 0, no RSS). --json prints one JSON object on stdout instead of the table. A live \
progress line is shown on stderr when stderr is a terminal.

More than 500 in flight per server: hololinked and testkit servers are libzmq ROUTERs that \
silently drop replies once about 500 are outstanding to one client (send high-water mark 1000), \
so the pool caps requests in flight per server at 500 by default and the rest wait in the pool. \
For a server started with `mmpool serve --send-hwm 0` (no limit) raise the cap with \
--max-in-flight-per-server N. Embedded servers always have no limit, and with --embedded the \
cap defaults to --inflight.

Many servers: give --server once per server (the pool is built with room for all of them); \
requests go round-robin over every server's Thing, so each server gets the same share. `mmpool \
serve --servers K` serves K servers from one process and prints a `READY <endpoint> <id>` line \
for each (see `mmpool serve --help`), so that the client CPU is this process's alone and the \
servers' CPU is one --server-pid's. --embedded --servers K instead starts K servers inside this \
process, each with its own threads, for quick local runs.

Limits: durations are seconds up to 315576000 (10 years), --inflight at most 1000000, --servers \
at most 64.

Exit codes: 0 every request answered and checked; 1 the report cannot be written (e.g. a full \
disk); 2 usage or configuration error (e.g. a bad --server endpoint); 6 a server not ready \
within --connect-timeout; 141 stdout is a pipe whose reader is gone (no message); otherwise the \
code of the first failed request (3 remote exception, 4 server timeout, 5 client timeout, \
6 disconnected, 7 invalid or unexpected reply).";

/// The most embedded servers one run starts (`--servers`): each is a libzmq context with its
/// own threads and file descriptors, and libzmq aborts the process when it runs out of them.
pub const MAX_EMBEDDED_SERVERS: usize = 64;

/// Measure throughput and latency of the pool: against running servers (--server, as for
/// call) or testkit servers started in this process (--embedded).
#[derive(Args, Debug)]
#[command(after_help = BENCH_HELP)]
pub struct BenchArgs {
    /// A server, as ID=ENDPOINT (tcp://host:port, ipc:///path, or `ipc` for hololinked's
    /// default ipc path of ID). Repeatable: requests cycle over every server's Thing.
    #[arg(
        long = "server",
        value_name = "ID=ENDPOINT",
        required_unless_present = "embedded",
        conflicts_with = "embedded"
    )]
    pub servers: Vec<ServerArg>,

    /// One more Thing on a server, as THING=SERVER (requests cycle over it too). Repeatable.
    #[arg(
        long = "thing",
        value_name = "THING=SERVER",
        conflicts_with = "embedded"
    )]
    pub things: Vec<ThingArg>,

    /// The client id (the DEALER identity the servers see); a fresh unique one by default.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,

    /// Start hololinked-compatible testkit servers in this process (ids bench-0, bench-1, ...;
    /// no send high-water mark) instead of --server. Needs the `servers` feature (a default
    /// one).
    #[arg(long)]
    pub embedded: bool,

    /// With --embedded: how many servers, at most 64 (requests cycle over them) [default: 1].
    #[arg(long = "servers", value_name = "K", value_parser = count(MAX_EMBEDDED_SERVERS))]
    pub server_count: Option<usize>,

    /// With --embedded: the transport the servers bind (tcp, the default, or ipc).
    #[arg(long, value_name = "tcp|ipc")]
    pub transport: Option<Transport>,

    /// Requests kept in flight (1 = sequential; at most 1000000).
    #[arg(long, value_name = "N", default_value = "100", value_parser = count(MAX_INFLIGHT))]
    pub inflight: usize,

    /// Length of the timed window in seconds.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = positive_seconds)]
    pub duration: Duration,

    /// Untimed run before the window, in seconds.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = seconds)]
    pub warmup: Duration,

    /// What each request asks.
    #[arg(long, value_enum, default_value_t = Operation::Number)]
    pub request: Operation,

    /// The pool's cap on requests in flight to one server (default 500; with --embedded the
    /// larger of 500 and --inflight). Raise it above 500 only for servers started with
    /// `--send-hwm 0`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight_per_server: Option<u32>,

    /// Client deadline of each request in seconds (a request without a reply by then counts
    /// as a timeout error).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = positive_seconds)]
    pub timeout: Duration,

    /// The server-side invokation timeout sent with each request, in seconds (default: none,
    /// `null`; hololinked's own default of 5 s makes a testkit server keep a timer per request).
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub invokation_timeout: Option<Duration>,

    /// How long to wait for every server to answer the handshake before starting, in seconds.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = positive_seconds)]
    pub connect_timeout: Duration,

    /// The pid of the (external) server process, to report its CPU time per request too.
    #[arg(long, value_name = "PID", conflicts_with = "embedded")]
    pub server_pid: Option<u32>,

    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Prints one error line (control characters escaped: it may hold a server's text) and
/// returns `exit`.
fn fail(message: &str, exit: Exit) -> Exit {
    stderr_line(format_args!("error: {}", escape_controls(message)));
    exit
}

/// Runs `mmpool bench`.
pub async fn run(args: BenchArgs) -> Exit {
    if !args.embedded && (args.server_count.is_some() || args.transport.is_some()) {
        return fail(
            "--servers and --transport are for --embedded servers; with --server, give one \
             --server per server",
            Exit::Usage,
        );
    }
    let target = if args.embedded {
        let count = args.server_count.unwrap_or(1);
        if let Err(e) = target::check_open_files(count, crate::limits::open_files_limit()) {
            return fail(&e, Exit::Usage);
        }
        let transport = args.transport.unwrap_or(Transport::Tcp);
        match Target::embedded(count, transport, args.client_id.clone()).await {
            Ok(target) => target,
            Err(e) => return fail(&e, Exit::Usage),
        }
    } else {
        Target::given(
            args.servers.clone(),
            args.things.clone(),
            args.client_id.clone(),
        )
    };
    let max_per_server = args
        .max_in_flight_per_server
        .unwrap_or(if target.is_embedded() {
            u32::try_from(args.inflight)
                .unwrap_or(u32::MAX)
                .max(DEFAULT_MAX_IN_FLIGHT_PER_SERVER)
        } else {
            DEFAULT_MAX_IN_FLIGHT_PER_SERVER
        });
    let servers = target.servers.servers.len();
    if !target.is_embedded() && args.inflight > servers * max_per_server as usize {
        stderr_line(format_args!(
            "note: the pool keeps at most {max_per_server} requests in flight per server, so \
             at most {} of --inflight {} are on the wire (the rest wait in the pool); for \
             servers started with --send-hwm 0 raise --max-in-flight-per-server",
            servers * max_per_server as usize,
            args.inflight
        ));
    }
    let pool = match target
        .builder(args.inflight, max_per_server, args.timeout)
        .invokation_timeout(args.invokation_timeout)
        .build()
    {
        Ok(pool) => pool,
        Err(e) => {
            target.stop(None).await;
            return fail(&message_of(&e), Exit::Usage);
        }
    };
    if let Err(e) = pool.ready(args.connect_timeout).await {
        let endpoints: Vec<String> = target
            .servers
            .servers
            .iter()
            .map(|s| format!("{}={}", s.id, s.endpoint))
            .collect();
        let message = match &e {
            Error::NotReady { servers, after } => format!(
                "no HANDSHAKE reply from {} within {after:?} (is a hololinked server running at {}?)",
                servers.join(", "),
                endpoints.join(", ")
            ),
            other => message_of(other),
        };
        target.stop(Some(pool)).await;
        return fail(&message, Exit::Unreachable);
    }

    let load = Load {
        inflight: args.inflight,
        warmup: args.warmup,
        duration: args.duration,
        operation: args.request,
        things: target.things.clone(),
        server_pid: args.server_pid,
        embedded: target.is_embedded(),
    };
    let before = pool.stats();
    let progress = Arc::new(Progress::default());
    let ticker = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(show_progress(Arc::clone(&progress))));
    // The loop runs as a task on a worker thread, like the pool's own tasks (not on the
    // thread that blocks on the runtime: that would be a third busy thread).
    let task = {
        let (pool, load, progress) = (pool.clone(), load.clone(), Arc::clone(&progress));
        tokio::spawn(async move { load::run(&pool, &load, &progress).await })
    };
    let outcome = task.await;
    if let Some(ticker) = ticker {
        ticker.abort();
        let _ = ticker.await;
        stderr_text("\r\x1b[2K");
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            target.stop(Some(pool)).await;
            return fail(&format!("the benchmark task failed: {e}"), Exit::Usage);
        }
    };
    let after = pool.stats();
    let summary = Summary {
        target: if target.is_embedded() {
            "embedded"
        } else {
            "servers"
        },
        servers,
        things: target.things.len(),
        endpoints: target
            .servers
            .servers
            .iter()
            .map(|s| s.endpoint.clone())
            .collect(),
        request: args.request.describe(),
        inflight: args.inflight,
        max_in_flight_per_server: max_per_server,
        warmup_s: args.warmup.as_secs_f64(),
        outcome,
        peak_rss_kib: pool_measure::peak_rss_kib(),
        threads: pool_measure::threads(),
        dropped: after.requests.dropped_total() - before.requests.dropped_total(),
        servers_lost: after.requests.servers_lost - before.requests.servers_lost,
    };
    target.stop(Some(pool)).await;
    let report = if args.json {
        // The first error's message may be a server's text: `json_text` leaves no control
        // character raw.
        json_text(&report::to_json(&summary)) + "\n"
    } else {
        report::to_table(&summary)
    };
    if let Err(e) = write_stdout(&report) {
        return write_failed(&e);
    }
    let errors = &summary.outcome.errors;
    match &errors.first {
        Some((message, exit)) => {
            stderr_line(format_args!(
                "error: {} of {} requests failed; the first: {}",
                errors.total(),
                summary.outcome.requests_total,
                escape_controls(message)
            ));
            *exit
        }
        None if summary.outcome.requests == 0 => fail(
            "no request completed inside the timed window",
            Exit::ClientTimeout,
        ),
        None => Exit::Ok,
    }
}

/// Rewrites one progress line on stderr every half second until aborted.
async fn show_progress(progress: Arc<Progress>) {
    let started = Instant::now();
    let mut last = (started, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.tick().await;
    loop {
        tick.tick().await;
        let line = load::progress_line(&progress, started, &mut last);
        stderr_text(format_args!("\r\x1b[2K{line}"));
    }
}
