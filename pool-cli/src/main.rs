//! `mmpool`: the hololinked client pool on the command line.
//!
//! * `mmpool demo`: embedded hololinked-compatible servers and a guided tour of the pool.
//! * `mmpool call`: one request to one Thing of any hololinked server.
//! * `mmpool all`: one request to every Thing.
//! * `mmpool describe`: a Thing's Thing Description, summarized or as JSON.
//! * `mmpool serve`: a hololinked-compatible test server as a process.
//! * `mmpool watch`: a Thing's events or an observable property's changes, as JSON lines.
//! * `mmpool bench`: throughput and latency against servers or embedded ones.
//! * `mmpool bench-events`: event throughput and CPU per event, the pool against a raw SUB.
//!
//! `RUST_LOG` (e.g. `RUST_LOG=pool_driver=debug`) turns on the pool's tracing on stderr.
#![forbid(unsafe_code)]
#![allow(clippy::result_large_err)]

mod all;
mod args;
mod bench;
mod bench_events;
mod call;
mod demo;
mod describe;
mod escape;
mod limits;
mod objekt;
mod outcome;
mod output;
mod serve;
mod stream_arg;
mod table;
mod td_summary;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Talk to hololinked servers ("Things") over ZeroMQ through one multiplexing client pool.
#[derive(Parser, Debug)]
#[command(name = "mmpool", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str =
    "Exit codes of call, all and describe: 0 reply, 2 usage or configuration error, \
3 remote exception, 4 server timeout, 5 client timeout, 6 server unreachable or disconnected, \
7 invalid message (e.g. unknown Thing); and, for every subcommand, 1 cannot write output (e.g. \
a full disk; one `error: cannot write output` line), 141 output closed (stdout is a pipe whose \
reader is gone; no message, the status of a process killed by SIGPIPE).

Durations are seconds from 0 to 315576000 (10 years); text from servers (exception types and \
messages) is printed with control characters escaped (`\\u{1b}`).";

/// The exit codes of `watch`.
const WATCH_CODES: &str = "Exit codes: 0 --count events printed, --duration elapsed, Ctrl-C or \
SIGTERM, \
2 usage or configuration error (e.g. an unknown Thing), 5 --duration elapsed before --count \
events came, 6 the pool closed, 1 output cannot be written, 141 output closed. Lines: \
{\"kind\":\"event\",\"seq\",\"thing\",\"event\",\"message_id\",\"content_type\",\"payload\" (or \
\"payload_base64\")}, {\"kind\":\"lagged\",\"events\":N} (dropped: read too slowly), \
{\"kind\":\"disconnected\"} and {\"kind\":\"reconnected\"} (events published between them are lost).";

/// The exit codes every subcommand shares (`demo --help`).
const OUTPUT_CODES: &str = "Exit codes: 0 success, 1 a check failed or the output cannot be \
written (e.g. a full disk), 2 usage error, 141 output closed (stdout is a pipe whose reader is \
gone; no message).";

#[derive(Subcommand, Debug)]
enum Command {
    /// Start embedded servers and show the pool at work, step by step (no setup needed).
    #[command(after_help = OUTPUT_CODES)]
    Demo(demo::DemoArgs),
    /// Send one request to one Thing and print the reply's payload as JSON.
    #[command(after_help = EXIT_CODES)]
    Call(call::CallArgs),
    /// Send one request to every Thing and print one JSON object of the results.
    #[command(after_help = EXIT_CODES)]
    All(all::AllArgs),
    /// Fetch a Thing's Description and print a summary of its properties, actions and events
    /// (or, with --json, the Description itself).
    #[command(after_help = EXIT_CODES)]
    Describe(describe::DescribeArgs),
    /// Run a hololinked-compatible test server, or many on one thread (--servers K).
    #[command(after_help = serve::SERVE_HELP)]
    Serve(serve::ServeArgs),
    /// Print a Thing's events (or --property changes) as JSON lines until --count, --duration
    /// or Ctrl-C.
    #[command(after_help = WATCH_CODES)]
    Watch(watch::WatchArgs),
    /// Measure throughput and latency.
    Bench(bench::BenchArgs),
    /// Measure event throughput and CPU per event: the pool's subscription against a raw
    /// zeromq SUB socket on the same publisher.
    BenchEvents(bench_events::BenchEventsArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A value a parser refused: one line naming the flag and the accepted range.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            output::stderr_line(args::value_error_line(&e.render().to_string()));
            return outcome::Exit::Usage.into();
        }
        Err(e) => e.exit(),
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            output::stderr_line(format_args!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let exit = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Call(args) => call::run(args).await,
            Command::All(args) => all::run(args).await,
            Command::Describe(args) => describe::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Watch(args) => watch::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::BenchEvents(args) => bench_events::run(args).await,
        }
    });
    exit.into()
}

/// Tracing on stderr, filtered by `RUST_LOG` (nothing by default).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
