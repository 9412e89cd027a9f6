//! Helpers for the end-to-end tests: testkit servers and pools wired to them.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use pool_testkit::{Behaviour, ServerConfig, TestServer};
use pool_tokio::{Pool, PoolBuilder};

/// Which transport a test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Tcp,
    Ipc,
}

pub const BOTH: [Via; 2] = [Via::Tcp, Via::Ipc];

/// A testkit server with one Thing per id in `things` (the server id itself when empty).
pub fn server(id: &str, things: &[&str], via: Via, behaviour: Behaviour) -> TestServer {
    let mut config = ServerConfig::builder(id).behaviour(behaviour);
    config = match via {
        Via::Tcp => config.tcp(),
        Via::Ipc => config.ipc(),
    };
    if !things.is_empty() {
        config = config.things(things.iter().copied());
    }
    TestServer::start(config.build()).expect("testkit server starts")
}

pub fn endpoint(server: &TestServer, via: Via) -> String {
    match via {
        Via::Tcp => server.tcp_endpoint(),
        Via::Ipc => server.ipc_endpoint(),
    }
    .expect("server has the endpoint")
    .to_owned()
}

/// A builder with every given server added (each with its own Things).
pub fn builder(servers: &[(&TestServer, Via)]) -> PoolBuilder {
    let mut builder = Pool::builder().request_timeout(Duration::from_secs(20));
    for (server, via) in servers {
        builder = builder.server(server.server_id(), endpoint(server, *via));
        for thing in server.thing_ids() {
            if thing != server.server_id() || server.thing_ids().len() > 1 {
                builder = builder.thing(thing.clone(), server.server_id());
            }
        }
    }
    builder
}

/// A ready pool over `servers`.
pub async fn ready_pool(servers: &[(&TestServer, Via)]) -> Pool {
    let pool = builder(servers).build().expect("pool builds");
    pool.ready(Duration::from_secs(10))
        .await
        .expect("servers ready");
    pool
}

/// Fails the test instead of hanging if `future` does not finish in a minute.
pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("the operation finished (a hang is a bug)")
}

/// Polls the pool's stats until `done` holds (at most 30 s), and returns them. For conditions
/// that depend on messages still on their way, instead of sleeping for a guessed time.
pub async fn eventually(
    pool: &pool_tokio::Pool,
    done: impl Fn(&pool_tokio::PoolStats) -> bool,
) -> pool_tokio::PoolStats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = pool.stats();
        if done(&stats) || tokio::time::Instant::now() >= deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
