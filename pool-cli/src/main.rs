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
//! * `mmpool completions`: a shell completion script.
//!
//! `demo`, `serve`, `bench-events` and `bench --embedded` need the `servers` feature (on by
//! default): the test servers of pool-testkit, built from libzmq's C++ sources. Without it
//! (`--no-default-features`) the binary is pure Rust and builds for Windows too.
//!
//! `RUST_LOG` (e.g. `RUST_LOG=pool_driver=debug`) turns on the pool's tracing on stderr.
#![forbid(unsafe_code)]
#![allow(clippy::result_large_err)]

mod all;
mod args;
mod bench;
#[cfg(feature = "servers")]
mod bench_events;
mod call;
mod completions;
#[cfg(feature = "servers")]
mod demo;
mod describe;
mod escape;
mod known_operation;
mod limits;
mod objekt;
mod outcome;
mod output;
mod payload;
mod remote_details;
#[cfg(feature = "servers")]
mod serve;
mod stop_signals;
#[cfg(feature = "servers")]
mod stream_arg;
mod table;
mod td_summary;
mod watch;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Talk to hololinked servers ("Things") over ZeroMQ through one multiplexing client pool.
#[derive(Parser, Debug)]
#[command(name = "mmpool", version, about, long_about = None, after_help = TOP_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit codes of call, all and describe (a macro, so that [`TOP_HELP`] can `concat!` it).
macro_rules! exit_codes {
    () => {
        "Exit codes of call, all and describe: 0 reply, 2 usage or configuration error, \
3 remote exception, 4 server timeout, 5 client timeout, 6 server unreachable or disconnected, \
7 invalid message (e.g. unknown Thing); and, for every subcommand, 1 cannot write output (e.g. \
a full disk; one `error: cannot write output` line), 141 output closed (stdout is a pipe whose \
reader is gone; no message, the status of a process killed by SIGPIPE).

Durations are seconds from 0 to 315576000 (10 years); text from servers (exception types and \
messages) is printed with control characters escaped (`\\u{1b}`)."
    };
}

/// The exit codes of call, all and describe, and the output codes every subcommand shares.
const EXIT_CODES: &str = exit_codes!();

/// What `mmpool --help` shows after the subcommands: the exit codes.
#[cfg(feature = "servers")]
const TOP_HELP: &str = EXIT_CODES;

/// What `mmpool --help` shows after the subcommands: which subcommands this build lacks, then
/// the exit codes.
#[cfg(not(feature = "servers"))]
const TOP_HELP: &str = concat!(
    "This mmpool was built without the `servers` feature: demo, serve and bench-events (which \
start hololinked-compatible test servers, built from libzmq's C++ sources) are not part of it, \
nor is bench --embedded; `cargo install pool-cli` (default features) has them.\n\n",
    exit_codes!()
);

/// The exit codes of `watch`.
const WATCH_CODES: &str = "Exit codes: 0 --count events printed, --duration elapsed, Ctrl-C or \
SIGTERM, \
2 usage or configuration error (e.g. an unknown Thing), 5 --duration elapsed before --count \
events came, 6 the pool closed, 1 output cannot be written, 141 output closed. Lines: \
{\"kind\":\"event\",\"seq\",\"thing\",\"event\",\"message_id\",\"content_type\",\"payload\" (or \
\"payload_base64\")}, {\"kind\":\"lagged\",\"events\":N} (dropped: read too slowly), \
{\"kind\":\"disconnected\"} and {\"kind\":\"reconnected\"} (events published between them are lost).";

/// The exit codes every subcommand shares (`demo --help`).
#[cfg(feature = "servers")]
const OUTPUT_CODES: &str = "Exit codes: 0 success, 1 a check failed or the output cannot be \
written (e.g. a full disk), 2 usage error, 141 output closed (stdout is a pipe whose reader is \
gone; no message).";

#[derive(Subcommand, Debug)]
enum Command {
    /// Start embedded servers and show the pool at work, step by step (no setup needed).
    #[cfg(feature = "servers")]
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
    #[cfg(feature = "servers")]
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
    #[cfg(feature = "servers")]
    BenchEvents(bench_events::BenchEventsArgs),
    /// Print a shell completion script on stdout (bash, zsh, fish, powershell or elvish).
    #[command(after_help = completions::COMPLETIONS_HELP)]
    Completions(completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A value a parser refused: one line naming the flag and the accepted range.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            output::stderr_line(args::value_error_line(&e.render().to_string()));
            return outcome::Exit::Usage.into();
        }
        Err(e) => {
            if let Some(name) = servers_subcommand(&e) {
                output::stderr_line(format_args!(
                    "error: `mmpool {name}` needs the `servers` feature, which this build \
                     lacks (`cargo install pool-cli` with default features has it)"
                ));
                return outcome::Exit::Usage.into();
            }
            e.exit()
        }
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
            #[cfg(feature = "servers")]
            Command::Demo(args) => demo::run(args).await,
            Command::Call(args) => call::run(args).await,
            Command::All(args) => all::run(args).await,
            Command::Describe(args) => describe::run(args).await,
            #[cfg(feature = "servers")]
            Command::Serve(args) => serve::run(args).await,
            Command::Watch(args) => watch::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            #[cfg(feature = "servers")]
            Command::BenchEvents(args) => bench_events::run(args).await,
            Command::Completions(args) => completions::run(&args),
        }
    });
    exit.into()
}

/// The subcommands only a build with the `servers` feature has.
const SERVERS_SUBCOMMANDS: [&str; 3] = ["demo", "serve", "bench-events"];

/// The name of the subcommand that `error` refuses as unknown, if it is one the `servers`
/// feature would have added (`None` in a build that has them).
fn servers_subcommand(error: &clap::Error) -> Option<&'static str> {
    if cfg!(feature = "servers") || error.kind() != clap::error::ErrorKind::InvalidSubcommand {
        return None;
    }
    let given = error.get(clap::error::ContextKind::InvalidSubcommand)?;
    let clap::error::ContextValue::String(given) = given else {
        return None;
    };
    SERVERS_SUBCOMMANDS.into_iter().find(|name| name == given)
}

/// Tracing on stderr, filtered by `RUST_LOG` (nothing by default); coloured only where
/// [`colour_wanted`] says so.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let ansi = colour_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Whether log lines may carry ANSI colour escapes: only on a terminal, and only while
/// `NO_COLOR` (<https://no-color.org>) is unset or empty. A pipe or a file gets plain text.
fn colour_wanted(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(false, Some(OsStr::new(""))));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
