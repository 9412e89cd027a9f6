//! The benchmark's knobs, read once from the environment.

use std::time::Duration;

pub(crate) use pool_testkit::Transport;

/// Which client a measurement drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Client {
    /// A zeromq-crate DEALER sending prebuilt frames, on the harness's runtime.
    Raw,
    /// The pool on the harness's runtime.
    Pool,
    /// A libzmq DEALER (the `zmq` crate) in a plain blocking loop, prebuilt frames (external
    /// mode only).
    Libzmq,
}

impl Client {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Client::Raw => "raw",
            Client::Pool => "pool",
            Client::Libzmq => "libzmq",
        }
    }
}

/// A server this process does not start (`MMPOOL_BENCH_ENDPOINT`).
#[derive(Clone, Debug)]
pub(crate) struct External {
    pub(crate) endpoint: String,
    /// Its process, whose CPU time is reported per request when given.
    pub(crate) pid: Option<u32>,
    /// The in-flight windows measured, in order.
    pub(crate) windows: Vec<usize>,
    /// The clients measured.
    pub(crate) clients: Vec<Client>,
}

/// Everything `MMPOOL_BENCH_*` sets (see the module documentation for each knob).
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) secs: Duration,
    pub(crate) reps: usize,
    pub(crate) window: usize,
    pub(crate) lat_n: usize,
    pub(crate) lat_warmup: usize,
    /// Lower-case fragments of harness names; `None` runs every runtime of the binary.
    pub(crate) runtimes: Option<Vec<String>>,
    pub(crate) transports: Vec<Transport>,
    /// `testkit` or `fast` (which server the child process runs).
    pub(crate) server: String,
    /// One throughput run of this client only, for a profiler.
    pub(crate) profile: Option<Client>,
    /// The `invokation_timeout` sent with every request.
    pub(crate) invokation_timeout: Option<Duration>,
    /// The server's id (its ROUTER identity), which is also the Thing asked.
    pub(crate) server_id: &'static str,
    /// An external server to measure instead of starting one (see the module documentation).
    pub(crate) external: Option<External>,
}

/// The environment variable that selects the child's role.
pub(crate) const ROLE_VAR: &str = "MMPOOL_BENCH_ROLE";
/// The environment variable that selects the server.
pub(crate) const SERVER_VAR: &str = "MMPOOL_BENCH_SERVER";

/// `name` parsed, or `default` when unset; a value that does not parse stops the run.
pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// The non-empty, trimmed, lower-case items of a comma-separated list.
fn items(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

impl Config {
    pub(crate) fn from_env() -> Config {
        let secs: f64 = env_or("MMPOOL_BENCH_SECS", 2.0);
        assert!(secs > 0.0, "MMPOOL_BENCH_SECS must be positive");
        let config = Config {
            secs: Duration::from_secs_f64(secs),
            reps: env_or("MMPOOL_BENCH_REPS", 3usize).max(1),
            window: env_or("MMPOOL_BENCH_WINDOW", 1000usize).max(1),
            lat_n: env_or("MMPOOL_BENCH_LAT_N", 5000usize).max(1),
            lat_warmup: env_or("MMPOOL_BENCH_LAT_WARMUP", 500usize),
            runtimes: runtimes_from_env(),
            transports: transports_from_env(),
            server: env_or(SERVER_VAR, "testkit".to_owned()),
            profile: profile_from_env(),
            invokation_timeout: (env_or("MMPOOL_BENCH_SERVER_TIMERS", 0u8) != 0)
                .then_some(Duration::from_secs(5)),
            server_id: server_id_from_env(),
            external: None,
        };
        let config = Config {
            external: external_from_env(config.window),
            ..config
        };
        assert!(
            matches!(config.server.as_str(), "testkit" | "fast"),
            "{SERVER_VAR}={:?}: testkit or fast",
            config.server
        );
        config
    }

    /// The largest window any run of this process uses (the pool is sized for it).
    pub(crate) fn max_window(&self) -> usize {
        self.external
            .as_ref()
            .and_then(|e| e.windows.iter().copied().max())
            .unwrap_or(self.window)
            .max(self.window)
    }

    /// Whether `MMPOOL_BENCH_RUNTIMES` selects the harness called `name`.
    pub(crate) fn selects(&self, name: &str) -> bool {
        let name = name.to_lowercase();
        self.runtimes
            .as_ref()
            .is_none_or(|wanted| wanted.iter().any(|w| name.contains(w.as_str())))
    }
}

/// `MMPOOL_BENCH_RUNTIMES`: fragments of harness names; `mt` and `ct` stay the short names of
/// tokio's two flavours that they were before the benchmark became generic.
fn runtimes_from_env() -> Option<Vec<String>> {
    let list = std::env::var("MMPOOL_BENCH_RUNTIMES").ok()?;
    let wanted: Vec<String> = items(&list)
        .map(|item| match item.as_str() {
            "mt" => "multi-thread".to_owned(),
            "ct" => "current-thread".to_owned(),
            _ => item,
        })
        .collect();
    (!wanted.is_empty()).then_some(wanted)
}

fn transports_from_env() -> Vec<Transport> {
    let list = env_or("MMPOOL_BENCH_TRANSPORTS", "tcp,ipc".to_owned());
    let transports: Vec<Transport> = items(&list)
        .map(|item| match item.as_str() {
            "tcp" => Transport::Tcp,
            "ipc" => Transport::Ipc,
            other => panic!("unknown transport {other:?} (tcp, ipc)"),
        })
        .collect();
    assert!(!transports.is_empty(), "MMPOOL_BENCH_TRANSPORTS is empty");
    transports
}

/// `MMPOOL_BENCH_SERVER_ID` (default `srv`), kept for the whole process.
fn server_id_from_env() -> &'static str {
    match std::env::var("MMPOOL_BENCH_SERVER_ID") {
        Ok(id) if !id.trim().is_empty() => Box::leak(id.trim().to_owned().into_boxed_str()),
        _ => super::SERVER_ID,
    }
}

/// `MMPOOL_BENCH_ENDPOINT` and what goes with it: `MMPOOL_BENCH_SERVER_PID`,
/// `MMPOOL_BENCH_WINDOWS` (default: `MMPOOL_BENCH_WINDOW`), `MMPOOL_BENCH_CLIENTS`.
fn external_from_env(window: usize) -> Option<External> {
    let endpoint = std::env::var("MMPOOL_BENCH_ENDPOINT")
        .ok()?
        .trim()
        .to_owned();
    assert!(
        endpoint.starts_with("tcp://") || endpoint.starts_with("ipc://"),
        "MMPOOL_BENCH_ENDPOINT={endpoint:?}: expected tcp://host:port or ipc:///path"
    );
    let pid = std::env::var("MMPOOL_BENCH_SERVER_PID")
        .ok()
        .map(|p| p.trim().parse().expect("MMPOOL_BENCH_SERVER_PID is a pid"));
    let windows: Vec<usize> = match std::env::var("MMPOOL_BENCH_WINDOWS") {
        Ok(list) => items(&list)
            .map(|w| match w.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => panic!("MMPOOL_BENCH_WINDOWS: {w:?} is not a window ≥ 1"),
            })
            .collect(),
        Err(_) => vec![window],
    };
    assert!(!windows.is_empty(), "MMPOOL_BENCH_WINDOWS is empty");
    let list = env_or("MMPOOL_BENCH_CLIENTS", "raw,pool,libzmq".to_owned());
    let clients: Vec<Client> = items(&list)
        .map(|c| match c.as_str() {
            "raw" => Client::Raw,
            "pool" => Client::Pool,
            "libzmq" => Client::Libzmq,
            other => panic!("MMPOOL_BENCH_CLIENTS: unknown client {other:?} (raw, pool, libzmq)"),
        })
        .collect();
    assert!(!clients.is_empty(), "MMPOOL_BENCH_CLIENTS is empty");
    Some(External {
        endpoint,
        pid,
        windows,
        clients,
    })
}

fn profile_from_env() -> Option<Client> {
    let client = std::env::var("MMPOOL_BENCH_PROFILE").ok()?;
    Some(match client.trim() {
        "raw" => Client::Raw,
        "pool" => Client::Pool,
        other => panic!("MMPOOL_BENCH_PROFILE={other:?}: raw or pool"),
    })
}
