//! Testkit servers and pools wired to them.

use std::time::Duration;

use pool_driver::{Pool, PoolBuilder, Runtime};
use pool_testkit::{Behaviour, ServerConfig, TestServer};

/// Which transport a test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `tcp://127.0.0.1:<port>`.
    Tcp,
    /// `ipc://` in a temporary directory.
    Ipc,
}

/// Both transports, for tests that run over each.
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

/// The server's endpoint for `via`.
pub fn endpoint(server: &TestServer, via: Via) -> String {
    match via {
        Via::Tcp => server.tcp_endpoint(),
        Via::Ipc => server.ipc_endpoint(),
    }
    .expect("server has the endpoint")
    .to_owned()
}

/// A builder with every given server added (each with its own Things).
pub fn builder<Rt: Runtime>(servers: &[(&TestServer, Via)]) -> PoolBuilder<Rt> {
    let mut builder = Pool::<Rt>::builder().request_timeout(Duration::from_secs(20));
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
pub async fn ready_pool<Rt: Runtime>(servers: &[(&TestServer, Via)]) -> Pool<Rt> {
    let pool = builder(servers).build().expect("pool builds");
    pool.ready(Duration::from_secs(10))
        .await
        .expect("servers ready");
    pool
}
