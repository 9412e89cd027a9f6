//! Testkit servers and pools wired to them.

use std::time::Duration;

use pool_driver::{Pool, PoolBuilder, Runtime};
use pool_testkit::{Behaviour, ServerConfig, TestServer, Transport};

/// A testkit server with one Thing per id in `things` (the server id itself when empty).
pub fn server(id: &str, things: &[&str], via: Transport, behaviour: Behaviour) -> TestServer {
    let mut config = ServerConfig::builder(id).behaviour(behaviour);
    config = match via {
        Transport::Tcp => config.tcp(),
        Transport::Ipc => config.ipc(),
    };
    if !things.is_empty() {
        config = config.things(things.iter().copied());
    }
    TestServer::start(config.build()).expect("testkit server starts")
}

/// The server's endpoint for `via`.
pub fn endpoint(server: &TestServer, via: Transport) -> String {
    match via {
        Transport::Tcp => server.tcp_endpoint(),
        Transport::Ipc => server.ipc_endpoint(),
    }
    .expect("server has the endpoint")
    .to_owned()
}

/// A builder with every given server added, each with exactly the Things it serves.
pub fn builder<Rt: Runtime>(servers: &[(&TestServer, Transport)]) -> PoolBuilder<Rt> {
    let mut builder = Pool::<Rt>::builder().request_timeout(Duration::from_secs(20));
    for (server, via) in servers {
        let things: Vec<&str> = server.thing_ids().iter().map(String::as_str).collect();
        builder = builder.server_with_things(server.server_id(), endpoint(server, *via), &things);
    }
    builder
}

/// A ready pool over `servers`.
pub async fn ready_pool<Rt: Runtime>(servers: &[(&TestServer, Transport)]) -> Pool<Rt> {
    let pool = builder(servers).build().expect("pool builds");
    pool.ready(Duration::from_secs(10))
        .await
        .expect("servers ready");
    pool
}
