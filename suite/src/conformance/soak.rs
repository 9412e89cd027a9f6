//! Soak: many requests over several servers with client timeouts, cancellations and server
//! restarts mixed in; afterwards nothing is left in flight, every counter adds up and memory is
//! flat after the warm-up.
//!
//! Short by default (CI); `MMPOOL_SOAK_REQUESTS=1000000` for the long run, which prints its
//! figures (requests, outcomes, RSS after warm-up and at the end) on stderr.

use futures::stream::{FuturesUnordered, StreamExt};

#[allow(unused_imports)]
use super::prelude::*;

/// Requests in the short (CI) run.
const SHORT_RUN: u64 = 20_000;
/// Requests in flight at once.
const WINDOW: u64 = 200;
/// A server is killed and restarted every this many requests.
const RESTART_EVERY: u64 = 5_000;

/// What one soak request was meant to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// An echo that must come back exact (or `Disconnected` if its server is being restarted).
    Echo,
    /// A request to a server that never answers, under a short client deadline: must end
    /// `Timeout`.
    TimeOut,
    /// Dropped right after it starts: must never deliver anything.
    Cancel,
}

fn plan_of(n: u64) -> Plan {
    match n % 10 {
        3 => Plan::TimeOut,
        7 => Plan::Cancel,
        _ => Plan::Echo,
    }
}

/// 10^6 requests (or `MMPOOL_SOAK_REQUESTS`) with ~10 % client timeouts, ~10 % cancellations and
/// periodic server restarts: every request ends once, in-flight is 0 afterwards, the counters add
/// up, and RSS after warm-up stays flat.
pub async fn soak_many_requests_with_timeouts_cancellations_and_restarts<H: Harness>() {
    let total: u64 = std::env::var("MMPOOL_SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SHORT_RUN);
    let mut servers = [
        server("soak-a", &[], Transport::Tcp, Behaviour::Normal),
        server("soak-b", &[], Transport::Ipc, Behaviour::Normal),
        server("soak-c", &[], Transport::Tcp, Behaviour::Normal),
    ];
    // Answers its HANDSHAKE and nothing else: the client deadlines' target.
    let mute = server(
        "soak-mute",
        &[],
        Transport::Ipc,
        Behaviour::NeverReply {
            answer_handshake: true,
        },
    );
    let mut wired: Vec<_> = servers
        .iter()
        .zip([Transport::Tcp, Transport::Ipc, Transport::Tcp])
        .collect();
    wired.push((&mute, Transport::Ipc));
    let pool = ready_pool::<H::Rt>(&wired).await;
    drop(wired);

    let request = |n: u64| {
        let pool = pool.clone();
        async move {
            let thing = ["soak-a", "soak-b", "soak-c"][(n % 3) as usize];
            let plan = plan_of(n);
            let r = match plan {
                Plan::Echo => {
                    pool.call(
                        Request::invoke_action(thing, "echo")
                            .kwargs(&json!({ "value": n }))
                            .timeout(secs(10.0)),
                    )
                    .await
                }
                Plan::TimeOut => {
                    pool.call(
                        Request::invoke_action("soak-mute", "echo")
                            .kwargs(&json!({ "value": n }))
                            .timeout(secs(0.005)),
                    )
                    .await
                }
                Plan::Cancel => {
                    let pending = pool.request(
                        Request::invoke_action(thing, "echo").kwargs(&json!({ "value": n })),
                    );
                    drop(pending);
                    return (n, plan, None);
                }
            };
            (n, plan, Some(r))
        }
    };

    let mut tally = Tally::default();
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0u64;
    let mut rss_warm = None;
    while next < total.min(WINDOW) {
        in_flight.push(request(next));
        next += 1;
    }
    while let Some((n, plan, result)) = bounded::<H, _>(in_flight.next()).await {
        tally.record(n, plan, result);
        if next < total {
            if next % RESTART_EVERY == RESTART_EVERY - 1 {
                let victim = &mut servers[((next / RESTART_EVERY) % 3) as usize];
                victim.kill();
                victim.restart().expect("restart on the same endpoint");
            }
            if next == total / 10 {
                rss_warm = rss_kib();
            }
            in_flight.push(request(next));
            next += 1;
        }
    }
    let rss_end = rss_kib();

    let stats = eventually::<H>(&pool, |s| s.in_flight == 0).await;
    let r = &stats.requests;
    eprintln!(
        "soak on {}: {total} requests: {} echoed, {} timed out, {} cancelled, {} disconnected \
         by restarts; pool: started {}, ended {}, late replies dropped {}, servers lost {}; \
         RSS after warm-up {:?} KiB, at the end {:?} KiB",
        H::NAME,
        tally.echoed,
        tally.timed_out,
        tally.cancelled,
        tally.disconnected,
        r.started,
        r.ended,
        r.dropped_late,
        r.servers_lost,
        rss_warm,
        rss_end
    );
    assert_eq!(tally.ended(), total, "every request ended once");
    assert_eq!(stats.in_flight, 0);
    assert_eq!(r.started, r.ended, "the pool ended everything it started");
    let outcomes = r.replies
        + r.exceptions
        + r.invalid_messages
        + r.server_timeouts
        + r.timeouts
        + r.cancelled
        + r.disconnected
        + r.closed
        + r.oneway_sent
        + r.unsendable;
    assert_eq!(outcomes, r.ended, "outcomes add up: {r:?}");
    // A cancelled request can still be answered if it was sent: never delivered, only counted.
    assert!(
        tally.echoed >= total * 7 / 10 - tally.disconnected,
        "{tally:?}"
    );
    assert!(tally.timed_out > 0 && tally.cancelled > 0, "{tally:?}");
    if let (Some(warm), Some(end)) = (rss_warm, rss_end) {
        // Flat: at most a quarter more (or 16 MiB, for allocator noise in short runs).
        let allowed = (warm / 4).max(16 * 1024);
        assert!(
            end <= warm + allowed,
            "RSS grew from {warm} KiB to {end} KiB"
        );
    }
    pool.shutdown().await;
    assert_eq!(pool.live_tasks(), 0);
}

#[derive(Debug, Default)]
struct Tally {
    echoed: u64,
    timed_out: u64,
    cancelled: u64,
    disconnected: u64,
}

impl Tally {
    fn record(&mut self, n: u64, plan: Plan, result: Option<Result<pool_driver::Reply, Error>>) {
        match (plan, result) {
            (Plan::Cancel, None) => self.cancelled += 1,
            (_, Some(Err(Error::Disconnected { .. }))) => self.disconnected += 1,
            (Plan::Echo, Some(Ok(reply))) => {
                assert_eq!(
                    reply.json::<u64>().unwrap(),
                    n,
                    "a reply reached the wrong request"
                );
                self.echoed += 1;
            }
            (Plan::TimeOut, Some(Err(Error::Timeout { .. }))) => self.timed_out += 1,
            (plan, other) => panic!("request {n} ({plan:?}) ended {other:?}"),
        }
    }

    fn ended(&self) -> u64 {
        self.echoed + self.timed_out + self.cancelled + self.disconnected
    }
}

/// This process's resident set size in KiB (Linux), if it can be read.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
