//! A live smoke test: the pool on a given runtime against a REAL hololinked 0.4.2 server.
//!
//! The full interop suite (both server lines, every feature) runs on tokio in `pool-tests`, and
//! its first part is [`requests_and_outcomes`], the core of this smoke test that every runtime
//! runs too, so a runtime-specific break in socket
//! handling, timers or reconnects against a real server cannot hide. The server is a Python
//! subprocess (`pool-testkit/python/thing_server.py`) from the venv `scripts/python-venvs.sh` makes;
//! `MMPOOL_SKIP_PYTHON_INTEROP=1` skips on purpose.

use std::time::Duration;

use pool_driver::{Error, Pool, Request, TimeoutKind};
use pool_testkit::python::{interop_skipped, Line, PythonServer};
use serde_json::{json, Value};

use crate::{bounded, eventually, Harness};
use pool_driver::Runtime;

/// Expands to one `#[test]` per transport running [`smoke`] on the given harness.
#[macro_export]
macro_rules! interop_smoke_tests {
    ($harness:ty) => {
        #[test]
        fn hololinked_0_4_smoke_over_tcp() {
            <$harness as $crate::Harness>::block_on($crate::interop::smoke::<$harness>(
                $crate::interop::Transport::Tcp,
            ));
        }

        #[test]
        fn hololinked_0_4_smoke_over_ipc() {
            <$harness as $crate::Harness>::block_on($crate::interop::smoke::<$harness>(
                $crate::interop::Transport::Ipc,
            ));
        }
    };
}

pub use pool_testkit::Transport;

/// Reads, writes, actions, a remote exception, a server timeout, fan-out, 100 concurrent
/// requests, and a kill/restart with the pool recovering on its own — against one hololinked
/// 0.4.2 server with two Things over `via`.
pub async fn smoke<H: Harness>(via: Transport) {
    if interop_skipped() {
        return;
    }
    let mut server = PythonServer::start(Line::V0_4, "smoke", &["alpha", "beta"], via)
        .unwrap_or_else(|e| panic!("starting a hololinked 0.4.2 server over {via:?}: {e}"));
    let pool = Pool::<H::Rt>::builder()
        .server_with_things("smoke", server.endpoint(), &["alpha", "beta"])
        .request_timeout(Duration::from_secs(20))
        .build()
        .expect("pool builds");
    if let Err(e) = pool.ready(Duration::from_secs(30)).await {
        panic!("{e}\n{}", server.stderr_tail());
    }
    let ctx = format!("{} over {via:?}", H::NAME);
    bounded::<H, _>(requests_and_outcomes(&pool, "smoke", &ctx)).await;
    bounded::<H, _>(kill_and_recover::<H>(&pool, &mut server, &ctx)).await;
    assert_eq!(pool.stats().in_flight, 0);
    pool.shutdown().await;
    assert_eq!(pool.live_tasks(), 0);
}

/// Reads, writes, actions (kwargs and positional), a remote exception, an execution timeout, a
/// fan-out and 100 concurrent requests, on a pool over one freshly started hololinked server
/// `server_id` whose Things are `alpha` and `beta`: the part of the live tests every runtime shares, and
/// the first part of pool-tests' full interop suite.
pub async fn requests_and_outcomes<Rt: Runtime>(pool: &Pool<Rt>, server_id: &str, ctx: &str) {
    let r = pool.read_property("alpha", "number").await.unwrap();
    assert_eq!(r.json::<f64>().unwrap(), 1.5, "{ctx}: a fresh server");
    assert_eq!((r.thing(), r.server()), ("alpha", server_id), "{ctx}");
    pool.write_property("alpha", "number", &4.5).await.unwrap();
    let r = pool.read_property("alpha", "number").await.unwrap();
    assert_eq!(r.json::<f64>().unwrap(), 4.5, "{ctx}");
    let r = pool
        .invoke_action("alpha", "add", &json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    assert_eq!(r.json::<i64>().unwrap(), 3, "{ctx}");
    let r = pool
        .call(Request::invoke_action("beta", "add").args(&[10, 5]))
        .await
        .unwrap();
    assert_eq!(r.json::<i64>().unwrap(), 15, "{ctx}");

    match pool
        .invoke_action("alpha", "fail", &json!({"message": "boom"}))
        .await
    {
        Err(Error::Remote {
            kind,
            message,
            thing,
            server,
            traceback,
            ..
        }) => {
            assert_eq!(
                (kind.as_str(), message.as_str()),
                ("ValueError", "boom"),
                "{ctx}"
            );
            assert_eq!(
                (thing.as_str(), server.as_str()),
                ("alpha", server_id),
                "{ctx}"
            );
            assert!(!traceback.is_empty(), "{ctx}");
        }
        other => panic!("{ctx}: {other:?}"),
    }
    let r = pool
        .call(
            Request::invoke_action("alpha", "sleep_for")
                .kwargs(&json!({"seconds": 1.5}))
                .execution_timeout(Some(Duration::from_millis(300))),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(Error::ServerTimeout {
                kind: TimeoutKind::Execution,
                ..
            })
        ),
        "{ctx}: {r:?}"
    );

    let all = pool.execute_in_all(Request::invoke_all("ping")).await;
    let things: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(things, ["alpha", "beta"], "{ctx}");
    for (thing, result) in &all {
        let reply = result.as_ref().unwrap_or_else(|e| panic!("{thing}: {e}"));
        assert_eq!(reply.value().unwrap(), Value::Null);
    }

    let concurrent = (0..100i64).map(|n| async move {
        let thing = if n % 2 == 0 { "alpha" } else { "beta" };
        let r = pool
            .invoke_action(thing, "echo", &json!({"value": n}))
            .await
            .unwrap();
        assert_eq!(r.json::<i64>().unwrap(), n, "{ctx}: misdelivered");
    });
    futures::future::join_all(concurrent).await;
}

/// A request on the wire when the server is SIGKILLed ends `Disconnected` at once; after a
/// restart on the same endpoint the pool serves again with no user action.
async fn kill_and_recover<H: Harness>(pool: &Pool<H::Rt>, server: &mut PythonServer, ctx: &str) {
    // Killed once it is written to the socket (an unwritten request would wait for the restart).
    let written = pool.stats().requests_written + 1;
    let in_flight = pool
        .request(
            Request::invoke_action("alpha", "sleep_for")
                .kwargs(&json!({"seconds": 20.0}))
                .execution_timeout(None)
                .timeout(Duration::from_secs(60)),
        )
        .unwrap();
    eventually::<H>(pool, |s| s.requests_written >= written).await;
    server.kill();
    let r = in_flight.await;
    assert!(matches!(r, Err(Error::Disconnected { .. })), "{ctx}: {r:?}");
    // Blocks this thread for the Python start-up; the pool's tasks run on the runtime's others.
    server
        .restart()
        .unwrap_or_else(|e| panic!("{ctx}: restarting the server: {e}"));
    let r = pool.read_property("alpha", "number").await;
    assert_eq!(
        r.unwrap().json::<f64>().unwrap(),
        1.5,
        "{ctx}: a fresh server"
    );
}
