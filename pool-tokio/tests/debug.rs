//! Every public type a user keeps in a struct formats with `{:?}`, showing what matters: the
//! server, the Thing, the message id; never a whole payload.
use std::time::Duration;

use pool_testkit::{ServerConfig, TestServer};
use pool_tokio::{Pending, Pool, PoolBuilder, Request, Subscription, Thing};

/// A user's application state: `#[derive(Debug)]` must compile over the pool's handles.
#[derive(Debug)]
#[allow(dead_code)] // The fields are only read by `Debug`.
struct App {
    pool: Pool,
    thing: Thing,
    pending: Pending,
    subscription: Subscription,
}

#[derive(Debug)]
#[allow(dead_code)]
struct Config {
    builder: PoolBuilder,
}

fn builder(endpoint: &str) -> PoolBuilder {
    Pool::builder()
        .server("srv", endpoint)
        .thing("camera", "srv")
        .client_id("debug-client")
        .request_timeout(Duration::from_secs(10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_handle_formats_with_what_matters() {
    let server = TestServer::start(ServerConfig::builder("srv").tcp().build()).unwrap();
    let endpoint = server.tcp_endpoint().unwrap().to_owned();

    let config = Config {
        builder: builder(&endpoint),
    };
    let shown = format!("{config:?}");
    assert!(shown.contains("\"srv\""), "{shown}");
    assert!(shown.contains(&endpoint), "the endpoint: {shown}");
    assert!(
        shown.contains("(\"camera\", \"srv\")"),
        "the Things: {shown}"
    );
    assert!(shown.contains("debug-client"), "{shown}");

    let pool = config.builder.build().unwrap();
    pool.ready(Duration::from_secs(5)).await.unwrap();
    let shown = format!("{pool:?}");
    for part in [
        "client_id: \"debug-client\"",
        "servers: 1",
        "servers_ready: 1",
        "things: 2",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }

    let pending = pool
        .request(Request::read_property("srv", "number"))
        .unwrap();
    let message_id = pending.message_id().unwrap().to_owned();
    let shown = format!("{pending:?}");
    assert!(shown.contains("thing: \"srv\""), "{shown}");
    assert!(shown.contains("server: \"srv\""), "{shown}");
    assert!(shown.contains(&message_id), "the message id: {shown}");

    let app = App {
        pool: pool.clone(),
        thing: pool.thing("camera"),
        pending,
        subscription: pool.subscribe_event("srv", "tick").unwrap(),
    };
    let shown = format!("{app:#?}");
    assert!(shown.contains("id: \"camera\""), "the Thing: {shown}");
    assert!(
        shown.contains("srv/tick"),
        "the subscription's event: {shown}"
    );
    assert!(shown.contains(&message_id), "the request: {shown}");

    let reply = app.pending.await.unwrap();
    let shown = format!("{reply:?}");
    assert!(shown.contains(&message_id), "{shown}");
    assert!(shown.contains("payload: 3 bytes \"1.5\""), "{shown}");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_reply_is_shown_cut_short() {
    let server = TestServer::start(ServerConfig::builder("srv").tcp().build()).unwrap();
    let pool = builder(server.tcp_endpoint().unwrap()).build().unwrap();
    let text = "x".repeat(100_000);
    let reply = pool
        .invoke_action("srv", "echo", &serde_json::json!({ "value": text }))
        .await
        .unwrap();
    assert_eq!(reply.json::<String>().unwrap(), text);
    let shown = format!("{reply:?}");
    assert!(shown.contains("100002 bytes"), "the length: {shown}");
    assert!(
        shown.len() < 1000,
        "not the whole payload: {} bytes",
        shown.len()
    );
    pool.shutdown().await;
}
