//! What `mmpool bench` talks to: the servers given with `--server`, or testkit servers it
//! starts in this process (`--embedded`), and the pool built over them.

use std::time::Duration;

use std::str::FromStr;

#[cfg(feature = "servers")]
use pool_testkit::{ServerConfig, TestServer};
use pool_tokio::{Pool, PoolBuilder};

use crate::args::{ServerArg, Servers, ThingArg};

/// The pool's default cap on requests in flight to one server.
pub const DEFAULT_MAX_IN_FLIGHT_PER_SERVER: u32 = 500;

/// Open files one embedded server takes, its share of the pool's included (about 19 measured:
/// a libzmq context's epoll and mailbox descriptors, its ROUTER and its connections), rounded up.
pub const FILES_PER_EMBEDDED_SERVER: u64 = 24;

/// Open files the rest of the process needs (about 11 measured), with room to spare.
pub const FILES_RESERVED: u64 = 64;

/// `Err` (one line) when `count` embedded servers would not fit under the process's open-files
/// limit (`limit`; `None`: unlimited or unknown). libzmq aborts the whole process when it cannot
/// create a descriptor, so a count that cannot fit is refused up front.
pub fn check_open_files(count: usize, limit: Option<u64>) -> Result<(), String> {
    let needed = (count as u64)
        .saturating_mul(FILES_PER_EMBEDDED_SERVER)
        .saturating_add(FILES_RESERVED);
    match limit {
        Some(limit) if needed > limit => Err(format!(
            "--servers {count} needs about {needed} open files but the limit is {limit} \
             (raise it with `ulimit -n`, or start fewer servers)"
        )),
        _ => Ok(()),
    }
}

/// `--transport`: what embedded servers bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `tcp://127.0.0.1:<any free port>`.
    Tcp,
    /// `ipc://<path>` in a temporary directory.
    Ipc,
}

impl FromStr for Transport {
    type Err = String;

    /// `tcp` or `ipc`, in any case.
    fn from_str(s: &str) -> Result<Transport, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Transport::Tcp),
            "ipc" => Ok(Transport::Ipc),
            _ => Err(format!("unknown transport {s:?}: tcp or ipc")),
        }
    }
}

/// A server this process started (`--embedded`): a testkit server, or none at all in a build
/// without the `servers` feature.
#[cfg(feature = "servers")]
pub type Embedded = TestServer;

/// A server this process started: none can be, in a build without the `servers` feature.
#[cfg(not(feature = "servers"))]
pub type Embedded = std::convert::Infallible;

/// The servers of a run, and the Things the requests go to (round-robin).
pub struct Target {
    /// Started by this process (`--embedded`); dropped (stopped) at the end.
    pub embedded: Vec<Embedded>,
    /// The servers and Things the pool is built over.
    pub servers: Servers,
    /// Every Thing, in the order requests cycle through them.
    pub things: Vec<String>,
}

impl Target {
    /// The servers given on the command line.
    pub fn given(
        servers: Vec<ServerArg>,
        things: Vec<ThingArg>,
        client_id: Option<String>,
    ) -> Target {
        let mut all: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
        for thing in &things {
            if !all.contains(&thing.thing) {
                all.push(thing.thing.clone());
            }
        }
        Target {
            embedded: Vec::new(),
            servers: Servers {
                servers,
                things,
                client_id,
            },
            things: all,
        }
    }

    /// `count` testkit servers `bench-0`, `bench-1`, ... started in this process, each with one
    /// Thing named after it and no send high-water mark (so any number of replies may be
    /// outstanding to the pool).
    #[cfg(feature = "servers")]
    pub async fn embedded(
        count: usize,
        transport: Transport,
        client_id: Option<String>,
    ) -> Result<Target, String> {
        // Started from a thread named `testkit-start`: libzmq's I/O and reaper threads are
        // created by the thread that opens a context's first socket and inherit its name, so
        // every thread of the embedded servers is named `testkit-*` and its CPU time can be
        // told apart from the client's (see `pool_measure::cpu::is_embedded_server_thread`).
        let start = move || {
            (0..count)
                .map(|i| {
                    let id = format!("bench-{i}");
                    let config = ServerConfig::builder(&id).send_hwm(0);
                    let config = match transport {
                        Transport::Tcp => config.tcp(),
                        Transport::Ipc => config.ipc(),
                    };
                    TestServer::start(config.build())
                        .map_err(|e| format!("cannot start embedded server {id}: {e}"))
                })
                .collect::<Result<Vec<TestServer>, String>>()
        };
        let starter = std::thread::Builder::new()
            .name("testkit-start".to_owned())
            .spawn(start)
            .map_err(|e| format!("cannot start the embedded servers: {e}"))?;
        let started = tokio::task::spawn_blocking(move || starter.join())
            .await
            .map_err(|e| format!("cannot start the embedded servers: {e}"))?
            .map_err(|_| "starting the embedded servers panicked".to_owned())??;
        let servers: Vec<ServerArg> = started
            .iter()
            .map(|server| ServerArg {
                id: server.server_id().to_owned(),
                endpoint: server.endpoints()[0].clone(),
            })
            .collect();
        let mut target = Target::given(servers, Vec::new(), client_id);
        target.embedded = started;
        Ok(target)
    }

    /// `--embedded` in a build without the `servers` feature: a usage error.
    #[cfg(not(feature = "servers"))]
    pub async fn embedded(
        _count: usize,
        _transport: Transport,
        _client_id: Option<String>,
    ) -> Result<Target, String> {
        Err(
            "--embedded needs the `servers` feature, which this build lacks (`cargo install \
             pool-cli` with default features has it); give --server instead"
                .to_owned(),
        )
    }

    /// Whether the servers run in this process.
    pub fn is_embedded(&self) -> bool {
        !self.embedded.is_empty()
    }

    /// The pool builder for a run with `inflight` requests in flight.
    pub fn builder(&self, inflight: usize, max_per_server: u32, timeout: Duration) -> PoolBuilder {
        self.servers
            .builder()
            .capacity(inflight.max(1024) * 2)
            .max_servers(self.servers.servers.len().max(64))
            .max_things(self.things.len().max(1024))
            .max_in_flight_per_server(max_per_server)
            .request_timeout(timeout)
    }

    /// Stops the embedded servers (joining their threads off the async workers).
    pub async fn stop(self, pool: Option<Pool>) {
        if let Some(pool) = pool {
            pool.shutdown().await;
        }
        let servers = self.embedded;
        if !servers.is_empty() {
            let _ = tokio::task::spawn_blocking(move || drop(servers)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_servers_must_fit_the_open_files_limit() {
        assert_eq!(check_open_files(64, None), Ok(()));
        assert_eq!(check_open_files(64, Some(20_000)), Ok(()));
        assert_eq!(check_open_files(1, Some(88)), Ok(()));
        let e = check_open_files(2, Some(88)).unwrap_err();
        assert!(
            e.contains("--servers 2") && e.contains("112") && e.contains("88"),
            "{e}"
        );
        assert!(check_open_files(64, Some(1024)).is_err());
    }
}
