//! `mmpool serve`: a hololinked-compatible test server (pool-testkit) as a process.

use clap::Args;
use pool_testkit::{ServerConfig, TestServer};
use tokio::signal::unix::{signal, SignalKind};

use crate::call::usage;
use crate::outcome::Exit;
use crate::output::{stderr_line, write_failed, write_stdout};

/// Serves Things like a hololinked server (properties `number`, `text`; actions `echo`, `add`,
/// `sleep_for`, `fail`, `ping`, ...), for benchmarks and for trying the CLI. Prints one
/// `READY <endpoint>` line per endpoint once it accepts, then serves until Ctrl-C or SIGTERM.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// An endpoint to bind: tcp://host:port (port 0 = any free port) or ipc:///path.
    /// Repeatable.
    #[arg(long, value_name = "ENDPOINT", required = true)]
    pub bind: Vec<String>,

    /// The server id (its ROUTER identity; clients use it as --server ID=ENDPOINT).
    #[arg(long, value_name = "ID")]
    pub id: String,

    /// The Things it serves, comma separated (default: one Thing named after the id).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub things: Vec<String>,

    /// Its send high-water mark per client (libzmq's default 1000, as hololinked; 0 =
    /// unlimited, for benchmarks with more than ~500 requests in flight).
    #[arg(
        long,
        value_name = "N",
        default_value_t = pool_testkit::DEFAULT_SEND_HWM,
        value_parser = clap::value_parser!(i32).range(0..)
    )]
    pub send_hwm: i32,
}

/// Runs `mmpool serve` until Ctrl-C or SIGTERM; stops at once (exit 1, or 141 for a closed
/// pipe) if the READY lines cannot be written, since whoever waits for them never learns the
/// server is up.
pub async fn run(args: ServeArgs) -> Exit {
    // Listen for the stop signals before saying READY: a parent may stop us right after it.
    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
        (Err(e), _) | (_, Err(e)) => {
            stderr_line(format_args!("error: cannot listen for signals: {e}"));
            return Exit::Failed;
        }
    };
    let server = match start(&args) {
        Ok(server) => server,
        Err(e) => return usage(&e),
    };
    let ready: String = server
        .endpoints()
        .iter()
        .map(|endpoint| format!("READY {endpoint}\n"))
        .collect();
    // Flushed: the lines must reach a parent that waits for them, even when stdout is a pipe.
    if let Err(e) = write_stdout(&ready) {
        drop(server);
        return write_failed(&e);
    }
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    drop(server);
    Exit::Ok
}

fn start(args: &ServeArgs) -> Result<TestServer, String> {
    let mut config = ServerConfig::builder(&args.id)
        .things(args.things.iter().cloned())
        .send_hwm(args.send_hwm);
    for endpoint in &args.bind {
        config = config.bind(endpoint).map_err(|e| e.to_string())?;
    }
    TestServer::start(config.build()).map_err(|e| format!("cannot serve {}: {e}", args.id))
}
