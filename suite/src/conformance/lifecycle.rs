//! Building, changing and closing a pool: bad configuration refused, servers added and removed, shutdown.

#[allow(unused_imports)]
use super::prelude::*;

/// Bad configuration is refused at build.
pub async fn bad_configuration_is_refused_at_build<H: Harness>() {
    let bad_endpoints = ["127.0.0.1:5555", "tcp://localhost", "inproc://x", "ipc://"];
    for endpoint in bad_endpoints {
        let r = Pool::<H::Rt>::builder().server("s", endpoint).build();
        assert!(
            matches!(r, Err(Error::InvalidEndpoint { .. })),
            "{endpoint}: {:?}",
            r.err()
        );
    }
    let r = Pool::<H::Rt>::builder().client_id("\0abc").build();
    assert!(matches!(r, Err(Error::InvalidIdentity { .. })));
    let r = Pool::<H::Rt>::builder().client_id("x".repeat(256)).build();
    assert!(matches!(r, Err(Error::InvalidIdentity { .. })));
    let r = Pool::<H::Rt>::builder()
        .server("", "tcp://127.0.0.1:5555")
        .build();
    assert!(matches!(r, Err(Error::InvalidIdentity { .. })));
    let r = Pool::<H::Rt>::builder()
        .server("s", "tcp://127.0.0.1:5555")
        .server("s", "tcp://127.0.0.1:5556")
        .build();
    assert!(matches!(r, Err(Error::AlreadyExists { .. })));
    let r = Pool::<H::Rt>::builder()
        .server("s", "tcp://127.0.0.1:5555")
        .thing("t", "s")
        .thing("t", "s")
        .build();
    assert!(
        matches!(r, Err(Error::AlreadyExists { ref id }) if id == "t"),
        "{:?}",
        r.err()
    );
    let r = Pool::<H::Rt>::builder()
        .thing("t", "no-such-server")
        .build();
    assert!(matches!(r, Err(Error::UnknownServer { .. })));
    let r = Pool::<H::Rt>::builder().capacity(0).build();
    assert!(matches!(r, Err(Error::Config(_))));
    // Outside a runtime there is nothing to run on (for runtimes that are not global).
    let (found, outside) = std::thread::spawn(|| {
        let found = <H::Rt as pool_driver::Runtime>::current().is_some();
        (found, Pool::<H::Rt>::builder().build().err())
    })
    .join()
    .unwrap();
    if !found {
        assert!(matches!(outside, Some(Error::NoRuntime(_))), "{outside:?}");
    }
}

/// Servers added and removed at run time.
pub async fn servers_added_and_removed_at_run_time<H: Harness>() {
    let first = server("first", &[], Transport::Tcp, Behaviour::Normal);
    let later = server("later", &[], Transport::Ipc, Behaviour::Delay(secs(0.3)));
    let pool = ready_pool::<H::Rt>(&[(&first, Transport::Tcp)]).await;
    pool.add_server("later", &endpoint(&later, Transport::Ipc))
        .unwrap();
    assert!(matches!(
        pool.add_server("later", &endpoint(&later, Transport::Ipc)),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        pool.add_server("x", "tcp://nowhere"),
        Err(Error::InvalidEndpoint { .. })
    ));
    bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
    let in_flight = pool
        .request(Request::read_property("later", "number"))
        .unwrap();
    sleep::<H>(secs(0.05)).await;
    let tasks_before = pool.live_tasks();
    bounded::<H, _>(pool.remove_server("later")).await.unwrap();
    assert!(matches!(
        bounded::<H, _>(in_flight).await,
        Err(Error::Closed { .. })
    ));
    // Its connection task (and with it the socket) is gone once `remove_server` returns.
    assert_eq!(pool.live_tasks(), tasks_before - 1);
    assert!(matches!(
        pool.request(Request::read_property("later", "number")),
        Err(Error::UnknownThing { .. })
    ));
    assert!(matches!(
        bounded::<H, _>(pool.remove_server("later")).await,
        Err(Error::UnknownServer { .. })
    ));
    // The other server never noticed.
    assert!(bounded::<H, _>(pool.read_property("first", "number"))
        .await
        .is_ok());
    assert_eq!(pool.servers(), [("first".to_owned(), true)]);
}

/// Shutdown closes requests and stops every task.
pub async fn shutdown_closes_requests_and_stops_every_task<H: Harness>() {
    let srv = server("down", &[], Transport::Tcp, Behaviour::Delay(secs(1.0)));
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    assert!(pool.live_tasks() >= 2, "timer and one connection");
    let pending = pool
        .request(Request::read_property("down", "number"))
        .unwrap();
    bounded::<H, _>(pool.shutdown()).await;
    assert_eq!(pool.live_tasks(), 0);
    assert!(matches!(
        bounded::<H, _>(pending).await,
        Err(Error::Closed { .. })
    ));
    assert!(matches!(
        pool.request(Request::read_property("down", "number")),
        Err(Error::Closed { .. }) | Err(Error::UnknownThing { .. })
    ));
    assert_eq!(pool.stats().requests.closed, 1);
    // Shutting down never tells the server to exit: hololinked stops a server on `EXIT`.
    let seen = srv.stats();
    assert!(seen.received_of("HANDSHAKE") >= 1, "{seen:?}");
    assert_eq!(seen.received_of("EXIT"), 0, "the pool sent EXIT");
}

/// Dropping the last handle shuts the pool down.
pub async fn dropping_the_last_handle_shuts_the_pool_down<H: Harness>() {
    let srv = server("dropme", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    let probe = pool.clone();
    drop(pool);
    // One clone is still alive: the pool still serves.
    assert!(bounded::<H, _>(probe.read_property("dropme", "number"))
        .await
        .is_ok());
    let pending = probe
        .request(Request::read_property("dropme", "number"))
        .unwrap();
    drop(probe);
    // Either the reply made it first, or the pool closed under it; never a hang.
    let r = bounded::<H, _>(pending).await;
    assert!(matches!(r, Ok(_) | Err(Error::Closed { .. })), "{r:?}");
}

/// The handles a user shares between tasks and threads are `Send`/`Sync` as they must be, and a
/// request can be awaited from a spawned task.
pub async fn handles_cross_threads_and_tasks<H: Harness>() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Pool<H::Rt>>();
    send_sync::<pool_driver::Reply>();
    send_sync::<Error>();
    send_sync::<Request>();
    send::<pool_driver::PoolBuilder<H::Rt>>();
    send::<pool_driver::Pending<H::Rt>>();

    let srv = server("shared", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    let task = {
        let pool = pool.clone();
        spawn::<H, _>(async move { pool.read_property("shared", "number").await })
    };
    let pending = pool
        .request(Request::read_property("shared", "text"))
        .unwrap();
    let other = spawn::<H, _>(pending);
    let (number, text) = bounded::<H, _>(futures::future::join(task, other)).await;
    assert_eq!(number.unwrap().json::<f64>().unwrap(), 1.5);
    assert_eq!(text.unwrap().json::<String>().unwrap(), "hello");
    // Unknown Things are refused at once, from any task.
    let r = spawn::<H, _>({
        let pool = pool.clone();
        async move { pool.call(Request::read_property("x", "y")).await }
    })
    .await;
    assert!(matches!(r, Err(Error::UnknownThing { .. })), "{r:?}");
    pool.shutdown().await;
}
