//! The handles a user shares between tasks and threads are `Send`/`Sync` as they must be.

use pool_tokio::{Error, Pending, Pool, PoolBuilder, Reply, Request};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn handles_cross_threads() {
    send_sync::<Pool>();
    send_sync::<Reply>();
    send_sync::<Error>();
    send_sync::<Request>();
    send::<PoolBuilder>();
    send::<Pending>();
    // A pending request can be awaited from a spawned task.
    fn spawnable<F: std::future::Future + Send + 'static>(_: &F) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = Pool::builder().build().unwrap();
        let call = {
            let pool = pool.clone();
            async move { pool.call(Request::read_property("x", "y")).await }
        };
        spawnable(&call);
        // No Thing is configured: refused at once, naming what the pool knows.
        assert!(matches!(call.await, Err(Error::UnknownThing { .. })));
        pool.shutdown().await;
    });
}
