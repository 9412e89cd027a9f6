//! Smallest end-to-end check: one testkit server, one read.
use std::time::Duration;

use pool_testkit::{ServerConfig, TestServer};
use pool_tokio::Pool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let server = TestServer::start(ServerConfig::builder("srv").tcp().build()).unwrap();
    let pool = Pool::builder()
        .server("srv", server.tcp_endpoint().unwrap())
        .build()
        .unwrap();
    pool.ready(Duration::from_secs(5)).await.unwrap();
    let r = pool.read_property("srv", "number").await.unwrap();
    assert_eq!(r.json::<f64>().unwrap(), 1.5);
    pool.shutdown().await;
}
