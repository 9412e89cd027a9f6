//! Hostile and broken peers at the ZMTP layer, below any hololinked message: a raw peer
//! ([`LyingPeer`]) lies about frame lengths in the greeting, in READY and after the handshake,
//! sends a frame over the size limit, endless MORE frames, a stream cut inside a frame, or
//! undecodable bytes. Whatever it does, the process lives, memory stays bounded, the request in
//! flight ends `Disconnected` naming the violation, the pool serves again once the peer
//! behaves, and a good server in the same pool (and in a fan-out) never notices.

use pool_measure::{peak_rss_kib, reset_peak_rss};
use pool_testkit::{Lie, LyingPeer};

#[allow(unused_imports)]
use super::prelude::*;

/// A lying peer listening over `via`.
fn liar(script: &[Lie], via: Transport) -> LyingPeer {
    LyingPeer::start("liar", &via.bind(), script).expect("lying peer starts")
}

/// A pool over a good testkit server and the lying peer (Thing `liar`), with fast reconnects.
fn pool_with_liar<Rt: pool_driver::Runtime>(
    good: &pool_testkit::TestServer,
    peer: &LyingPeer,
    via: Transport,
) -> Pool<Rt> {
    builder::<Rt>(&[(good, via)])
        .server("liar", peer.endpoint())
        .reconnect_backoff(secs(0.05), secs(0.2))
        .build()
        .expect("pool builds")
}

/// One request in flight to the liar when it lies; it must end `Disconnected`, its reason
/// containing `expect`. Then the liar behaves and the pool serves it again; the good server
/// answered throughout, and a fan-out over both gives each its own outcome.
async fn lie_after_handshake<H: Harness>(lie: Lie, expect: &str) -> PoolStats {
    let mut stats = None;
    for via in Transport::ALL {
        let good = server("good", &[], via, Behaviour::Normal);
        let peer = liar(&[lie], via);
        let pool = pool_with_liar::<H::Rt>(&good, &peer, via);
        bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();

        // The good server's traffic runs while the liar lies.
        let steady = {
            let pool = pool.clone();
            spawn::<H, _>(async move {
                for n in 0..50i64 {
                    let r = pool
                        .invoke_action("good", "echo", &json!({ "value": n }))
                        .await;
                    assert_eq!(r.unwrap().json::<i64>().unwrap(), n);
                }
            })
        };
        let r = bounded::<H, _>(pool.invoke_action("liar", "echo", &json!({ "value": 1 }))).await;
        match r {
            Err(Error::Disconnected { server, reason, .. }) => {
                assert_eq!(server, "liar");
                assert!(reason.contains(expect), "{via:?} {lie:?}: {reason}");
            }
            other => panic!("{via:?} {lie:?}: {other:?}"),
        }
        bounded::<H, _>(steady).await;

        // The next connection behaves: the pool reconnects by itself and serves again.
        bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
        let r = bounded::<H, _>(pool.invoke_action("liar", "echo", &json!({ "value": 2 }))).await;
        assert_eq!(r.unwrap().json::<Value>().unwrap(), json!({ "value": 2 }));
        let all = bounded::<H, _>(pool.execute_in_all(Request::read_property("", "text"))).await;
        assert_eq!(all.len(), 2, "{all:?}");
        for (thing, result) in &all {
            assert!(result.is_ok(), "{via:?}: {thing}: {result:?}");
        }
        assert_eq!(peer.lies(), 1);
        assert!(peer.connections() >= 2, "{via:?}: the pool reconnected");
        let s = pool.stats();
        assert!(s.requests.servers_lost >= 1, "{s:?}");
        assert_eq!(s.in_flight, 0, "{s:?}");
        stats = Some(s);
        pool.shutdown().await;
    }
    stats.expect("ran over both transports")
}

/// A frame header claiming 1 TiB (or 2^63-1 bytes) after the handshake: refused at the header,
/// before any allocation; the request in flight ends `Disconnected` naming the size.
pub async fn a_huge_frame_header_loses_the_connection_not_the_process<H: Harness>() {
    let stats = lie_after_handshake::<H>(Lie::HugeLength(1 << 40), "1099511627776 bytes").await;
    assert!(stats.protocol_errors >= 1, "{stats:?}");
    lie_after_handshake::<H>(Lie::HugeLength(i64::MAX as u64), "protocol violation").await;
}

/// A stream that ends inside a frame (a server that died mid-write) is a lost connection at
/// once: reported, reconnected, never a spinning reader.
pub async fn a_stream_cut_mid_frame_is_a_lost_connection<H: Harness>() {
    lie_after_handshake::<H>(Lie::CutMidFrame, "inside a frame").await;
}

/// Undecodable bytes on the first connection: that connection is lost; the next one serves.
pub async fn undecodable_bytes_lose_one_connection_and_the_next_serves<H: Harness>() {
    let stats = lie_after_handshake::<H>(Lie::Undecodable, "undecodable").await;
    assert!(stats.protocol_errors >= 1, "{stats:?}");
}

/// Lies before the hololinked handshake: a huge length in the greeting's signature (harmless:
/// ZMTP 3 ignores those bytes), a READY whose header claims 1 TiB, a greeting that is not
/// one. The connect attempts fail, the pool retries, and the request made meanwhile is answered
/// once a connection behaves; the good server serves throughout.
pub async fn lies_during_the_zmtp_handshake_fail_the_attempt_and_the_pool_retries<H: Harness>() {
    for via in Transport::ALL {
        let good = server("good", &[], via, Behaviour::Normal);
        let script = [
            Lie::HugeLengthInReady,
            Lie::BadGreeting,
            Lie::HugeLengthInGreeting,
        ];
        let peer = liar(&script, via);
        let pool = pool_with_liar::<H::Rt>(&good, &peer, via);
        let waiting = pool
            .request(
                Request::invoke_action("liar", "echo")
                    .kwargs(&json!({ "value": 3 }))
                    .timeout(secs(30.0)),
            )
            .unwrap();
        let r = bounded::<H, _>(pool.invoke_action("good", "echo", &json!({ "value": 4 }))).await;
        assert_eq!(r.unwrap().json::<i64>().unwrap(), 4);
        let r = bounded::<H, _>(waiting).await;
        assert_eq!(r.unwrap().json::<Value>().unwrap(), json!({ "value": 3 }));
        assert_eq!(peer.lies(), 3, "{via:?}");
        // The greeting's lie was harmless: that third connection is the one that serves.
        assert_eq!(peer.connections(), 3, "{via:?}");
        let stats = pool.stats();
        assert!(stats.connect_failures >= 2, "{via:?}: {stats:?}");
        pool.shutdown().await;
    }
}

/// A peer that lies in every READY never becomes ready: a request to it ends at its deadline
/// as `Timeout`, saying the server never became ready and why its last attempt failed; the
/// pool backs off between attempts instead of hammering it.
pub async fn a_peer_that_always_lies_times_out_with_the_reason<H: Harness>() {
    let good = server("good", &[], Transport::Tcp, Behaviour::Normal);
    let peer = liar(&[Lie::HugeLengthInReady; 64], Transport::Tcp);
    let pool = pool_with_liar::<H::Rt>(&good, &peer, Transport::Tcp);
    let r = bounded::<H, _>(
        pool.request(Request::read_property("liar", "text").timeout(secs(1.0)))
            .unwrap(),
    )
    .await;
    match r {
        Err(Error::Timeout {
            sent: false,
            server_ready: false,
            server_error: Some(why),
            ..
        }) => assert!(why.contains("1099511627776 bytes"), "{why}"),
        other => panic!("{other:?}"),
    }
    let r = bounded::<H, _>(pool.read_property("good", "number")).await;
    assert_eq!(r.unwrap().json::<f64>().unwrap(), 1.5);
    // Backoff between attempts (50 ms doubling to 200 ms): a handful in a second, not a storm.
    let connections = peer.connections();
    assert!((2..=20).contains(&connections), "{connections} connections");
    pool.shutdown().await;
}

/// The peak resident set grows by less than this while a peer attacks (the attacks below
/// would take 512 MiB or more without the limits).
const MAX_GROWTH_KIB: u64 = 64 * 1024;

/// Runs one lie after the handshake (over TCP) and returns the peak RSS growth in KiB.
async fn peak_growth_during<H: Harness>(lie: Lie, expect: &str) -> u64 {
    let good = server("good", &[], Transport::Tcp, Behaviour::Normal);
    let peer = liar(&[lie], Transport::Tcp);
    let pool = pool_with_liar::<H::Rt>(&good, &peer, Transport::Tcp);
    bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
    reset_peak_rss();
    let before = peak_rss_kib().unwrap_or(0);
    let r = bounded::<H, _>(pool.invoke_action("liar", "echo", &json!({ "value": 1 }))).await;
    match r {
        Err(Error::Disconnected { reason, .. }) => {
            assert!(reason.contains(expect), "{lie:?}: {reason}");
        }
        other => panic!("{lie:?}: {other:?}"),
    }
    let after = peak_rss_kib().unwrap_or(0);
    bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
    let r = bounded::<H, _>(pool.invoke_action("liar", "echo", &json!({ "value": 2 }))).await;
    assert_eq!(r.unwrap().json::<Value>().unwrap(), json!({ "value": 2 }));
    pool.shutdown().await;
    after.saturating_sub(before)
}

/// A 512 MiB frame (header and body, sent in full) against the default 64 MiB reply limit:
/// refused at its header, so not one byte of it is buffered.
pub async fn an_oversize_frame_is_refused_at_its_header_with_memory_bounded<H: Harness>() {
    let growth = peak_growth_during::<H>(Lie::OversizeFrame(512 << 20), "536870912 bytes").await;
    assert!(growth < MAX_GROWTH_KIB, "peak RSS grew {growth} KiB");
}

/// Empty frames with MORE set and never a last one (2^26 of them, 128 MiB on the wire): the
/// message is refused at the frame limit, memory stays flat.
pub async fn endless_more_frames_stop_at_the_frame_limit_with_memory_bounded<H: Harness>() {
    let growth = peak_growth_during::<H>(Lie::EndlessMore, "frames").await;
    assert!(growth < MAX_GROWTH_KIB, "peak RSS grew {growth} KiB");
}
