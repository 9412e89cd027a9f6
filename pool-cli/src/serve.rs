//! `mmpool serve`: a hololinked-compatible test server (pool-testkit) as a process, or many of
//! them on one thread (`--servers K`, a pool-testkit `ServerFarm`).

use std::path::Path;

use clap::Args;
use pool_testkit::{ServerConfig, ServerFarm, TestServer, MAX_FARM_SERVERS};
use pool_tokio::hololinked_ipc_endpoint;

use crate::args::count;
use crate::call::usage;
use crate::limits::open_files_limit;
use crate::outcome::Exit;
use crate::output::{stderr_line, write_failed, write_stdout};
use crate::stop_signals::StopSignals;
use crate::stream_arg::StreamArg;

/// What `serve --help` adds after the options.
pub const SERVE_HELP: &str = "\
Many servers: with --servers K (K > 1) one process serves K servers from one thread (one libzmq \
context, --io-threads I/O threads, every ROUTER socket watched by that thread with epoll, and \
the Things run there too), each a server of its own: id <ID>-<i> for i = 0 .. K-1 (its ROUTER identity), \
Things <THING>-<i> (default: one Thing named after the server), its own state and its own \
endpoint for each --bind: tcp://host:0 gives each server a free port; tcp://host:P gives server \
i port P+i; ipc:///dir/name.ipc gives server i ipc:///dir/name-<i>.ipc. It prints one line \
`READY <endpoint> <id>` per server and endpoint, server by server, in --bind order. With one \
server the line is `READY <endpoint>`. For example, to benchmark the pool over 16 servers:
  mmpool serve --bind tcp://127.0.0.1:0 --id srv --servers 16 --send-hwm 0 > ready.txt &
  mmpool bench $(awk '{print \"--server\", $3\"=\"$2}' ready.txt) --max-in-flight-per-server 1000

Events: with one server, the READY lines are followed by one line `PUBLISHER <id> <endpoint>` per \
event publisher endpoint (one beside each --bind: tcp port + 1, of the port 0 chose too, or \
<id>.event-publisher.ipc beside the ipc socket), where `mmpool watch --publisher` and `mmpool \
bench-events --publisher` connect. --stream THING/EVENT[@RATE] publishes that event as a steady \
stream of {\"n\":k} payloads (k from 0) at RATE events/s, or as fast as the PUB socket takes them \
without @RATE; --observable NAME makes a writeproperty (or readproperty) of NAME that finds a new \
value publish NAME_change_event with it, as hololinked does. A many-servers process publishes no events.

A busy Thing (sleep_for) of a many-servers process does not hold up the others: its reply and \
its next jobs wait on timers. An EXIT request stops the server it is sent to (with many, its \
socket closes and the others go on); the process runs until a signal. Each of many servers takes about 1 + (one per --bind) open \
files plus one per connected client; a count that cannot fit under `ulimit -n` is refused.

Exit codes: 0 stopped by SIGTERM or SIGINT, 1 cannot write output (the READY lines, e.g. to a \
full disk) or cannot listen for signals, 2 usage error (a bad --bind, id or count; an endpoint that cannot be bound), 141 stdout \
is a pipe whose reader is gone (no message).";

/// Serves Things like a hololinked server (properties `number`, `text`; actions `echo`, `add`,
/// `sleep_for`, `fail`, `ping`, ...), for benchmarks and for trying the CLI. Prints one
/// `READY <endpoint>` line per endpoint once it accepts (with --servers K > 1, `READY
/// <endpoint> <id>` per server and endpoint), then with one server a `PUBLISHER <id>
/// <endpoint>` line per event publisher endpoint, then serves until Ctrl-C or SIGTERM.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// An endpoint to bind: tcp://host:port (port 0 = any free port), ipc:///path, or `ipc`
    /// for hololinked's default ipc path of the id (where `--server ID=ipc` looks).
    /// Repeatable.
    #[arg(long, value_name = "ENDPOINT", required = true)]
    pub bind: Vec<String>,

    /// The server id (its ROUTER identity; clients use it as --server ID=ENDPOINT); with
    /// --servers K > 1 the servers are ID-0 … ID-(K-1).
    #[arg(long, value_name = "ID")]
    pub id: String,

    /// The Things it serves, comma separated (default: one Thing named after the id); with
    /// --servers K > 1 server ID-i serves THING-i (i = 0 … K-1).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub things: Vec<String>,

    /// How many servers, from 1 to 1000, each with its own id and endpoints (see below).
    #[arg(long, value_name = "K", default_value = "1", value_parser = count(MAX_FARM_SERVERS))]
    pub servers: usize,

    /// With --servers K > 1: libzmq I/O threads of the process, from 1 to 16 [default: 1].
    #[arg(long, value_name = "N", value_parser = count(16))]
    pub io_threads: Option<usize>,

    /// Its send high-water mark per client (libzmq's default 1000, as hololinked; 0 =
    /// unlimited, for benchmarks with more than ~500 requests in flight).
    #[arg(
        long,
        value_name = "N",
        default_value_t = pool_testkit::DEFAULT_SEND_HWM,
        value_parser = clap::value_parser!(i32).range(0..)
    )]
    pub send_hwm: i32,

    /// Publish event EVENT of Thing THING as a steady stream of `{"n":k}` payloads, RATE events
    /// per second (from 0 exclusive to 1000000), or as fast as the PUB socket takes them
    /// without @RATE. Repeatable; not with --servers K > 1.
    #[arg(long = "stream", value_name = "THING/EVENT[@RATE]")]
    pub streams: Vec<StreamArg>,

    /// Make property NAME (number or text) observable on every Thing: a writeproperty (or
    /// readproperty) of it that finds a new value publishes `NAME_change_event` with it, as
    /// hololinked does. Repeatable; not with --servers K > 1.
    #[arg(long = "observable", value_name = "NAME")]
    pub observable: Vec<String>,
}

/// What is being served; dropped (stopped, ipc files removed) at the end.
enum Served {
    One(Box<TestServer>),
    Many(ServerFarm),
}

impl Served {
    /// The READY lines, then the PUBLISHER lines.
    fn ready(&self) -> String {
        match self {
            Served::One(server) => {
                let ready = server
                    .endpoints()
                    .iter()
                    .map(|endpoint| format!("READY {endpoint}\n"));
                let id = server.server_id();
                let publishers = server
                    .event_endpoints()
                    .iter()
                    .map(|endpoint| format!("PUBLISHER {id} {endpoint}\n"));
                ready.chain(publishers).collect()
            }
            Served::Many(farm) => (0..farm.len())
                .flat_map(|i| {
                    let id = farm.server_id(i).unwrap_or_default();
                    farm.endpoints(i)
                        .unwrap_or_default()
                        .iter()
                        .map(move |endpoint| format!("READY {endpoint} {id}\n"))
                })
                .collect(),
        }
    }
}

/// Runs `mmpool serve` until Ctrl-C or SIGTERM; stops at once (exit 1, or 141 for a closed
/// pipe) if the READY lines cannot be written, since whoever waits for them never learns the
/// server is up.
pub async fn run(args: ServeArgs) -> Exit {
    // Listen for the stop signals before saying READY: a parent may stop us right after it.
    let mut stop = match StopSignals::listen() {
        Ok(stop) => stop,
        Err(e) => {
            stderr_line(format_args!("error: cannot listen for signals: {e}"));
            return Exit::Failed;
        }
    };
    let served = match start(&args) {
        Ok(served) => served,
        Err(e) => return usage(&e),
    };
    // Flushed: the lines must reach a parent that waits for them, even when stdout is a pipe.
    if let Err(e) = write_stdout(&served.ready()) {
        drop(served);
        return write_failed(&e);
    }
    stop.recv().await;
    drop(served);
    Exit::Ok
}

fn start(args: &ServeArgs) -> Result<Served, String> {
    if args.servers == 1 {
        if args.io_threads.is_some() {
            return Err("--io-threads is for --servers K > 1".to_owned());
        }
        let binds = args
            .bind
            .iter()
            .map(|bind| resolve_bind(bind, &args.id))
            .collect::<Result<Vec<String>, String>>()?;
        let mut config = server_config(&args.id, args.things.iter().cloned(), &binds, args)?;
        for stream in &args.streams {
            stream.check_thing(&config.thing_ids)?;
            config.event_streams.push(stream.stream());
        }
        config.observable.clone_from(&args.observable);
        return TestServer::start(config)
            .map(|server| Served::One(Box::new(server)))
            .map_err(|e| format!("cannot serve {}: {e}", args.id));
    }
    if !args.streams.is_empty() || !args.observable.is_empty() {
        return Err(
            "--stream and --observable need --servers 1 (a many-servers process publishes no \
             events)"
                .to_owned(),
        );
    }
    check_open_files(args.servers, args.bind.len(), open_files_limit())?;
    let mut configs = Vec::with_capacity(args.servers);
    for i in 0..args.servers {
        let binds = args
            .bind
            .iter()
            .map(|bind| match bind.as_str() {
                IPC_DEFAULT => resolve_bind(bind, &format!("{}-{i}", args.id)),
                _ => endpoint_of(bind, i),
            })
            .collect::<Result<Vec<String>, String>>()?;
        let things = args.things.iter().map(|thing| format!("{thing}-{i}"));
        configs.push(server_config(
            &format!("{}-{i}", args.id),
            things,
            &binds,
            args,
        )?);
    }
    let io_threads = i32::try_from(args.io_threads.unwrap_or(1)).unwrap_or(1);
    ServerFarm::builder()
        .servers(configs)
        .io_threads(io_threads)
        .start()
        .map(Served::Many)
        .map_err(|e| format!("cannot serve {} servers {}-*: {e}", args.servers, args.id))
}

/// One server's configuration.
fn server_config(
    id: &str,
    things: impl Iterator<Item = String>,
    binds: &[String],
    args: &ServeArgs,
) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::builder(id)
        .things(things)
        .send_hwm(args.send_hwm);
    for endpoint in binds {
        config = config.bind(endpoint).map_err(|e| e.to_string())?;
    }
    Ok(config.build())
}

/// `--bind ipc`: hololinked's default ipc path of the server id.
const IPC_DEFAULT: &str = "ipc";

/// The endpoint `--bind bind` of server `id` means: `ipc` is hololinked's default ipc path of
/// `id` (`$HOME/.hololinked/sockets/<id>.ipc`, its directory created), where `--server ID=ipc`
/// and hololinked's own clients look; anything else is as given.
fn resolve_bind(bind: &str, id: &str) -> Result<String, String> {
    if bind != IPC_DEFAULT {
        return Ok(bind.to_owned());
    }
    let endpoint = hololinked_ipc_endpoint(id)
        .ok_or_else(|| "`--bind ipc` needs HOME to find hololinked's ipc path".to_owned())?;
    let path = Path::new(endpoint.trim_start_matches("ipc://"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(endpoint)
}

/// Server `index`'s endpoint for `--bind bind` (see [`SERVE_HELP`]): tcp port 0 (or `*`) as it
/// is, tcp port P as P + index, an ipc path with `-<index>` before its extension.
fn endpoint_of(bind: &str, index: usize) -> Result<String, String> {
    if let Some(rest) = bind.strip_prefix("tcp://") {
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err(format!("cannot bind {bind:?}: expected tcp://host:port"));
        };
        if port == "0" || port == "*" {
            return Ok(bind.to_owned());
        }
        let derived = port
            .parse::<u16>()
            .ok()
            .and_then(|p| u16::try_from(usize::from(p) + index).ok());
        return match derived {
            Some(p) => Ok(format!("tcp://{host}:{p}")),
            None => Err(format!(
                "cannot bind {bind:?} for server {index}: expected a port from 0 to 65535 that \
                 leaves room for one port per server"
            )),
        };
    }
    if let Some(path) = bind.strip_prefix("ipc://").filter(|p| !p.is_empty()) {
        let path = Path::new(path);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match path.extension() {
            Some(ext) => format!("{stem}-{index}.{}", ext.to_string_lossy()),
            None => format!("{stem}-{index}"),
        };
        return Ok(format!("ipc://{}", path.with_file_name(name).display()));
    }
    Err(format!(
        "cannot bind {bind:?}: expected tcp://host:port or ipc:///path"
    ))
}

/// `Err` (one line) when `servers` servers with `binds` endpoints each cannot fit under the
/// open-files limit (`None`: unlimited or unknown): each ROUTER socket has a mailbox descriptor
/// and one listening descriptor per endpoint, and libzmq aborts the process when it cannot
/// create one. (Connections come on top; libzmq refuses those it has no descriptor for.)
fn check_open_files(servers: usize, binds: usize, limit: Option<u64>) -> Result<(), String> {
    let needed = (servers as u64)
        .saturating_mul(1 + binds as u64)
        .saturating_add(64);
    match limit {
        Some(limit) if needed > limit => Err(format!(
            "--servers {servers} needs at least {needed} open files but the limit is {limit} \
             (raise it with `ulimit -n`, or serve fewer)"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_gets_its_own_endpoint() {
        assert_eq!(
            endpoint_of("tcp://127.0.0.1:0", 7).unwrap(),
            "tcp://127.0.0.1:0"
        );
        assert_eq!(
            endpoint_of("tcp://127.0.0.1:*", 7).unwrap(),
            "tcp://127.0.0.1:*"
        );
        assert_eq!(endpoint_of("tcp://*:5555", 0).unwrap(), "tcp://*:5555");
        assert_eq!(
            endpoint_of("tcp://[::1]:5555", 3).unwrap(),
            "tcp://[::1]:5558"
        );
        assert!(endpoint_of("tcp://127.0.0.1:65535", 1).is_err());
        assert!(endpoint_of("tcp://127.0.0.1:x", 1).is_err());
        assert!(endpoint_of("tcp://nohost", 1).is_err());
        assert_eq!(
            endpoint_of("ipc:///tmp/a.ipc", 2).unwrap(),
            "ipc:///tmp/a-2.ipc"
        );
        assert_eq!(
            endpoint_of("ipc:///tmp/d/sock", 0).unwrap(),
            "ipc:///tmp/d/sock-0"
        );
        assert_eq!(
            endpoint_of("ipc://rel.x.ipc", 1).unwrap(),
            "ipc://rel.x-1.ipc"
        );
        assert!(endpoint_of("ipc://", 0).is_err());
        assert!(endpoint_of("udp://x:1", 0).is_err());
    }

    #[test]
    fn many_servers_must_fit_the_open_files_limit() {
        assert_eq!(check_open_files(256, 1, None), Ok(()));
        assert_eq!(check_open_files(256, 1, Some(1024)), Ok(()));
        let e = check_open_files(256, 2, Some(512)).unwrap_err();
        assert!(
            e.contains("--servers 256") && e.contains("832") && e.contains("512"),
            "{e}"
        );
    }
}
