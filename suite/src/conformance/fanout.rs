//! Several Things per server and requests to every Thing at once.

#[allow(unused_imports)]
use super::prelude::*;

/// Many things on one server and fan out over servers.
pub async fn many_things_on_one_server_and_fan_out_over_servers<H: Harness>() {
    let multi = server(
        "multi",
        &["cam", "stage", "laser"],
        Transport::Tcp,
        Behaviour::Normal,
    );
    let single = server("single", &[], Transport::Ipc, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&multi, Transport::Tcp), (&single, Transport::Ipc)]).await;
    assert_eq!(pool.things(), ["cam", "laser", "single", "stage"]);
    bounded::<H, _>(async {
        for thing in ["cam", "stage", "laser"] {
            pool.write_property(thing, "text", &thing).await.unwrap();
        }
        for thing in ["cam", "stage", "laser"] {
            let r = pool.read_property(thing, "text").await.unwrap();
            assert_eq!(
                r.json::<String>().unwrap(),
                thing,
                "each Thing keeps its own state"
            );
        }
        let all = pool.execute_in_all(Request::invoke_all("ping")).await;
        let things: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(things, ["cam", "laser", "single", "stage"]);
        for (thing, result) in &all {
            let reply = result.as_ref().unwrap_or_else(|e| panic!("{thing}: {e}"));
            assert_eq!(reply.thing(), thing);
            assert_eq!(reply.value().unwrap(), Value::Null);
        }
        let all = pool
            .execute_in_all(Request::read_property("", "text"))
            .await;
        for (thing, result) in all {
            let expected = if thing == "single" {
                "hello".to_owned()
            } else {
                thing.clone()
            };
            assert_eq!(result.unwrap().json::<String>().unwrap(), expected);
        }
    })
    .await;
}

/// Fan out gives each thing its own outcome.
pub async fn fan_out_gives_each_thing_its_own_outcome<H: Harness>() {
    let good = server("good", &[], Transport::Tcp, Behaviour::Normal);
    let mute = server(
        "mute",
        &[],
        Transport::Tcp,
        Behaviour::NeverReply {
            answer_handshake: true,
        },
    );
    let pool = ready_pool::<H::Rt>(&[(&good, Transport::Tcp), (&mute, Transport::Tcp)]).await;
    let all =
        bounded::<H, _>(pool.execute_in_all(Request::invoke_all("ping").timeout(secs(0.3)))).await;
    assert!(all[0].1.is_ok(), "{:?}", all[0]);
    assert!(
        matches!(all[1].1, Err(Error::Timeout { sent: true, .. })),
        "{:?}",
        all[1]
    );
}

/// Fan out wider than the pool is refused not left waiting.
pub async fn fan_out_wider_than_the_pool_is_refused_not_left_waiting<H: Harness>() {
    let srv = server(
        "wide",
        &["t1", "t2", "t3"],
        Transport::Tcp,
        Behaviour::Normal,
    );
    let pool = builder::<H::Rt>(&[(&srv, Transport::Tcp)])
        .capacity(2)
        .no_request_timeout()
        .build()
        .unwrap();
    pool.ready(secs(10.0)).await.unwrap();
    let all = bounded::<H, _>(pool.execute_in_all(Request::invoke_all("ping"))).await;
    assert_eq!(all.len(), 3);
    for (thing, result) in all {
        assert!(
            matches!(result, Err(Error::Busy { capacity: 2, .. })),
            "{thing}: {result:?}"
        );
    }
    assert_eq!(pool.stats().requests.started, 0, "all or nothing");
}

/// A fan-out into a full pool waits for enough free slots within its deadline, then starts
/// every member at once; one that cannot get them in time ends `Busy` for every Thing, and
/// nothing of it starts.
pub async fn a_fan_out_into_a_full_pool_waits_for_its_slots_within_its_deadline<H: Harness>() {
    let slow = server(
        "slow",
        &["a", "b"],
        Transport::Tcp,
        Behaviour::Delay(secs(0.3)),
    );
    let pool = builder::<H::Rt>(&[(&slow, Transport::Tcp)])
        .capacity(2)
        .build()
        .unwrap();
    pool.ready(secs(10.0)).await.unwrap();
    bounded::<H, _>(async {
        // Both slots taken: a fan-out over two Things must wait for both.
        let first = pool.request(Request::read_property("a", "number")).unwrap();
        let second = pool.request(Request::read_property("b", "number")).unwrap();
        let too_soon = pool
            .execute_in_all(Request::invoke_all("ping").timeout(secs(0.05)))
            .await;
        assert_eq!(too_soon.len(), 2);
        for (thing, result) in &too_soon {
            assert!(
                matches!(result, Err(Error::Busy { capacity: 2, .. })),
                "{thing}: {result:?}"
            );
        }
        assert_eq!(pool.stats().requests.started, 2, "all or nothing");
        let all = pool
            .execute_in_all(Request::invoke_all("ping").timeout(secs(5.0)))
            .await;
        let things: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(things, ["a", "b"]);
        for (thing, result) in &all {
            assert!(result.is_ok(), "{thing}: {result:?}");
        }
        assert_eq!(first.await.unwrap().json::<f64>().unwrap(), 1.5);
        assert_eq!(second.await.unwrap().json::<f64>().unwrap(), 1.5);
    })
    .await;
}
