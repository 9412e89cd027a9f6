//! `mmpool demo`: embedded hololinked-compatible servers and a guided tour of the pool.
//!
//! Every step checks what it shows; a step that does not behave as described ends the demo with
//! exit code 1, so the demo doubles as a smoke test of the whole stack.

use std::time::{Duration, Instant};

use clap::Args;
use futures::stream::{FuturesUnordered, StreamExt};
use pool_testkit::{EventStream, ServerConfig, TestServer};
use pool_tokio::{Error, EventItem, Pool, PoolStats, Request, Subscription, TimeoutKind};
use serde_json::json;

use crate::escape::{escape_controls, json_text};
use crate::outcome::Exit;
use crate::output::{stderr_line, stdout_line, write_failed};

/// Starts two embedded servers (one over tcp, one over ipc, three Things) and shows reads and
/// writes, actions, a remote exception, server and client timeouts, cancellation, fan-out,
/// events (a stream and an observable property), a server killed and restarted, and a short
/// load run. No setup needed; about 10 s.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Seconds of the closing load run (at most 315576000, 10 years).
    #[arg(long, value_name = "SECS", value_parser = crate::args::seconds, default_value = "2")]
    pub load_secs: Duration,

    /// Requests in flight during the load run (1 to 1000000).
    #[arg(
        long,
        value_name = "N",
        default_value = "200",
        value_parser = crate::args::count(crate::args::MAX_INFLIGHT)
    )]
    pub inflight: usize,
}

/// Why the tour stopped early.
#[derive(Debug)]
enum Stop {
    /// A step did not behave as described.
    Check(String),
    /// The output could not be written.
    Output(std::io::Error),
}

impl From<String> for Stop {
    fn from(message: String) -> Stop {
        Stop::Check(message)
    }
}

type Step = Result<(), Stop>;

/// Runs the demo.
pub async fn run(args: DemoArgs) -> Exit {
    let done = match tour(&args).await {
        Ok(()) => stdout_line("\nDone: every step behaved as described.").map_err(Stop::Output),
        Err(stop) => Err(stop),
    };
    match done {
        Ok(()) => Exit::Ok,
        Err(Stop::Output(e)) => write_failed(&e),
        Err(Stop::Check(e)) => {
            stderr_line(format_args!("\ndemo failed: {}", escape_controls(&e)));
            Exit::Failed
        }
    }
}

async fn tour(args: &DemoArgs) -> Step {
    heading(1, "two embedded hololinked-compatible servers")?;
    // lab publishes spectrometer/measurement ({"n":k}) 50 times a second, and a change event
    // when a write gives `text` (an observable property) a new value.
    let lab = start(
        ServerConfig::builder("lab")
            .things(["spectrometer", "stage"])
            .tcp()
            .event_stream(EventStream::new("spectrometer", "measurement").rate(50.0))
            .observable("text"),
    )?;
    let mut vault = start(ServerConfig::builder("vault").thing("camera").ipc())?;
    show(
        "server lab  (spectrometer, stage)",
        lab.tcp_endpoint().unwrap_or("?"),
    )?;
    show("server vault (camera)", vault.ipc_endpoint().unwrap_or("?"))?;

    let began = Instant::now();
    let pool = Pool::builder()
        .server_with_things(
            "lab",
            lab.tcp_endpoint().unwrap_or_default(),
            &["spectrometer", "stage"],
        )
        .server_with_things(
            "vault",
            vault.ipc_endpoint().unwrap_or_default(),
            &["camera"],
        )
        .request_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    pool.ready(Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    show(
        "pool ready (HANDSHAKE answered by both)",
        format!("{:.1} ms", ms(began.elapsed())),
    )?;

    reads_and_writes(&pool).await?;
    actions(&pool).await?;
    remote_exception(&pool).await?;
    timeouts(&pool).await?;
    cancellation(&pool).await?;
    fan_out(&pool).await?;
    events(&pool).await?;
    kill_and_restart(&pool, &mut vault).await?;
    load(&pool, args).await?;

    heading(11, "what the pool counted")?;
    let stats = pool.stats();
    print_stats(&stats)?;
    pool.shutdown().await;
    show("shut down; background tasks left", pool.live_tasks())?;
    Ok(())
}

async fn reads_and_writes(pool: &Pool) -> Step {
    heading(2, "a Thing, its Description, its properties")?;
    let spectrometer = pool
        .thing("spectrometer")
        .checked()
        .await
        .map_err(|e| e.to_string())?;
    if let Some(td) = spectrometer.description() {
        let writable = td.properties.values().filter(|p| !p.read_only).count();
        show(
            "spectrometer's Thing Description",
            format!(
                "{} properties ({writable} writable), {} actions, {} events",
                td.properties.len(),
                td.actions.len(),
                td.events.len()
            ),
        )?;
    }
    let number: f64 = spectrometer
        .read("number")
        .await
        .map_err(|e| e.to_string())?;
    show("spectrometer.number", number)?;
    spectrometer
        .write("number", &42.5)
        .await
        .map_err(|e| e.to_string())?;
    let again: f64 = spectrometer
        .read("number")
        .await
        .map_err(|e| e.to_string())?;
    expect(again == 42.5, "the written value reads back")?;
    show("spectrometer.number = 42.5, read back", again)?;
    match spectrometer.read::<f64>("numbr").await {
        Err(e @ Error::UnknownAffordance { .. }) => {
            show(
                "a typo, refused before any request",
                escape_controls(&e.to_string()),
            )?;
        }
        other => return Err(format!("a typo must be refused locally, got {other:?}").into()),
    }
    let text: String = json_of(pool.read_property("stage", "text").await)?;
    show(
        "stage.text (another Thing, same server)",
        format!("{text:?}"),
    )?;
    Ok(())
}

async fn actions(pool: &Pool) -> Step {
    heading(3, "invoke actions")?;
    let sum: i64 = json_of(
        pool.invoke_action("camera", "add", &json!({"a": 1, "b": 2}))
            .await,
    )?;
    expect(sum == 3, "add(a=1, b=2) is 3")?;
    show("camera.add(a=1, b=2)", sum)?;
    let sum: i64 = json_of(
        pool.call(Request::invoke_action("camera", "add").args(&[20, 22]))
            .await,
    )?;
    expect(sum == 42, "add(20, 22) is 42")?;
    show("camera.add(20, 22)  (positional)", sum)?;
    Ok(())
}

async fn remote_exception(pool: &Pool) -> Step {
    heading(4, "a remote exception")?;
    match pool
        .invoke_action("stage", "fail", &json!({"message": "motor stalled"}))
        .await
    {
        Err(Error::Remote { kind, message, .. }) => {
            // The exception's type and message are the server's text.
            let raised = format!("{kind}: {message}");
            show("stage.fail(...) raised", escape_controls(&raised))?;
            Ok(())
        }
        other => Err(format!("expected a remote exception, got {other:?}").into()),
    }
}

async fn timeouts(pool: &Pool) -> Step {
    heading(5, "timeouts: the server's and the client's")?;
    let server_side = pool
        .call(
            Request::invoke_action("stage", "sleep_for")
                .kwargs(&json!({"seconds": 2.0}))
                .execution_timeout(Some(Duration::from_millis(200))),
        )
        .await;
    match server_side {
        Err(Error::ServerTimeout {
            kind: TimeoutKind::Execution,
            ..
        }) => show(
            "sleep_for(2 s), execution limit 200 ms",
            "the server gave up: execution timeout",
        )?,
        other => return Err(format!("expected an execution timeout, got {other:?}").into()),
    }
    let began = Instant::now();
    let client_side = pool
        .call(
            Request::invoke_action("spectrometer", "sleep_for")
                .kwargs(&json!({"seconds": 1.0}))
                .timeout(Duration::from_millis(200)),
        )
        .await;
    match client_side {
        Err(Error::Timeout { sent: true, .. }) => show(
            "sleep_for(1 s), client deadline 200 ms",
            format!("timed out after {:.0} ms", ms(began.elapsed())),
        )?,
        other => return Err(format!("expected a client timeout, got {other:?}").into()),
    }
    Ok(())
}

async fn cancellation(pool: &Pool) -> Step {
    heading(6, "cancellation: drop the request")?;
    let before = pool.stats();
    let pending = pool
        .request(Request::invoke_action("stage", "sleep_for").kwargs(&json!({"seconds": 0.3})))
        .map_err(|e| e.to_string())?;
    let id = pending.message_id().unwrap_or("?").to_owned();
    settle(pool, |s| s.requests_written > before.requests_written).await;
    drop(pending);
    show("sent, then dropped", format!("message id {id}"))?;
    let after = settle(pool, |s| {
        s.requests.dropped_late > before.requests.dropped_late
    })
    .await;
    expect(
        after.requests.cancelled > before.requests.cancelled,
        "the request was cancelled",
    )?;
    expect(
        after.requests.dropped_late > before.requests.dropped_late,
        "its late reply was dropped",
    )?;
    show("its reply arrived later", "dropped, delivered to no one")?;
    Ok(())
}

async fn fan_out(pool: &Pool) -> Step {
    heading(7, "fan-out: one request to every Thing")?;
    let all = pool
        .execute_in_all(Request::read_property("", "text"))
        .await;
    for (thing, result) in &all {
        let value = result
            .as_ref()
            .map_err(|e| e.to_string())?
            .value()
            .map_err(|e| e.to_string())?;
        show(&format!("{thing}.text"), json_text(&value))?;
    }
    expect(all.len() == 3, "three Things answered")
}

async fn kill_and_restart(pool: &Pool, vault: &mut TestServer) -> Step {
    heading(9, "a server killed mid-request, then restarted")?;
    let written = pool.stats().requests_written;
    let in_flight = pool
        .request(Request::invoke_action("camera", "sleep_for").kwargs(&json!({"seconds": 5.0})))
        .map_err(|e| e.to_string())?;
    // Written to the socket: an unwritten request would wait for the restart instead.
    settle(pool, |s| s.requests_written > written).await;
    vault.kill();
    match in_flight.await {
        Err(Error::Disconnected { .. }) => show(
            "vault killed with camera.sleep_for in flight",
            "Disconnected at once (never resent)",
        )?,
        other => return Err(format!("expected Disconnected, got {other:?}").into()),
    }
    let number: f64 = json_of(pool.read_property("spectrometer", "number").await)?;
    show("meanwhile lab still serves: spectrometer.number", number)?;
    vault.restart().map_err(|e| e.to_string())?;
    let began = Instant::now();
    let number: f64 = json_of(pool.read_property("camera", "number").await)?;
    show(
        "vault restarted: camera.number (pool reconnected itself)",
        format!("{number} after {:.0} ms", ms(began.elapsed())),
    )?;
    Ok(())
}

async fn load(pool: &Pool, args: &DemoArgs) -> Step {
    heading(
        10,
        &format!(
            "load: {} requests in flight for {:.0} s",
            args.inflight,
            args.load_secs.as_secs_f64()
        ),
    )?;
    let things = ["spectrometer", "stage", "camera"];
    let mut in_flight = FuturesUnordered::new();
    let mut latencies = Vec::new();
    let mut next = 0usize;
    let launch = |n: usize| {
        let began = Instant::now();
        let call = pool.read_property(things[n % things.len()], "number");
        async move { (call.await, began.elapsed()) }
    };
    let began = Instant::now();
    while next < args.inflight {
        in_flight.push(launch(next));
        next += 1;
    }
    while let Some((result, latency)) = in_flight.next().await {
        result.map_err(|e| format!("a load request failed: {e}"))?;
        latencies.push(latency);
        if began.elapsed() < args.load_secs {
            in_flight.push(launch(next));
            next += 1;
        }
    }
    let elapsed = began.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    show("requests answered", latencies.len())?;
    show(
        "throughput",
        format!(
            "{:.0} req/s",
            latencies.len() as f64 / elapsed.as_secs_f64()
        ),
    )?;
    show(
        "latency under load p50 / p99",
        format!("{:.2} ms / {:.2} ms", ms(at(0.5)), ms(at(0.99))),
    )?;
    Ok(())
}

async fn events(pool: &Pool) -> Step {
    heading(8, "events: a stream and an observable property")?;
    let began = pool.stats();
    let mut changes = pool
        .observe_property("stage", "text")
        .map_err(|e| e.to_string())?;
    let mut measurements = pool
        .subscribe_event("spectrometer", "measurement")
        .map_err(|e| e.to_string())?;
    show(
        "subscribed: measurement, text_change_event",
        format!("{} subscriptions", pool.stats().subscriptions),
    )?;
    let mut last = None;
    for _ in 0..3 {
        let event = next_event(&mut measurements, Duration::from_secs(5))
            .await?
            .ok_or_else(|| "no measurement within 5 s".to_owned())?;
        let n = event.value().map_err(|e| e.to_string())?["n"].as_u64();
        expect(
            n.is_some() && n > last,
            "the stream's n counts up ({\"n\":k})",
        )?;
        last = n;
        show(
            &format!("spectrometer/measurement #{}", event.seq()),
            json_text(&event.value().map_err(|e| e.to_string())?),
        )?;
    }
    // PUB/SUB drops what is published before the subscription reaches the publisher: the
    // stream arriving says the socket is up, but write until the change comes, to be sure.
    let mut change = None;
    for attempt in 0..50 {
        let value = format!("hello from the pool ({})", attempt + 1);
        pool.write_property("stage", "text", &value)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(event) = next_event(&mut changes, Duration::from_millis(200)).await? {
            change = Some((value, event));
            break;
        }
    }
    let (written, event) =
        change.ok_or_else(|| "no change event after 50 writes of stage.text".to_owned())?;
    let value = event.value().map_err(|e| e.to_string())?;
    expect(
        value == json!(written),
        "the change event carries the written value",
    )?;
    show("stage.text written; its change event", json_text(&value))?;
    drop(measurements);
    drop(changes);
    let after = settle(pool, |s| s.subscriptions == began.subscriptions).await;
    expect(
        after.subscriptions == began.subscriptions,
        "dropping the subscriptions ends them",
    )?;
    show(
        "both dropped: subscriptions left",
        format!("{} (each unsubscribed on drop)", after.subscriptions),
    )?;
    Ok(())
}

/// The next event of `subscription` within `bound` (`None`: none came); gap items (lag,
/// reconnects) are skipped.
async fn next_event(
    subscription: &mut Subscription,
    bound: Duration,
) -> Result<Option<pool_tokio::Event>, Stop> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(deadline, subscription.next()).await {
            Ok(Some(EventItem::Event(event))) => return Ok(Some(event)),
            Ok(Some(_)) => continue,
            Ok(None) => return Err(format!("{} ended", subscription.event_id()).into()),
            Err(_) => return Ok(None),
        }
    }
}

fn print_stats(stats: &PoolStats) -> Step {
    let r = &stats.requests;
    show(
        "requests started / ended",
        format!("{} / {}", r.started, r.ended),
    )?;
    show(
        "replies / exceptions / server timeouts / client timeouts",
        format!(
            "{} / {} / {} / {}",
            r.replies, r.exceptions, r.server_timeouts, r.timeouts
        ),
    )?;
    show(
        "cancelled / disconnected / late replies dropped",
        format!("{} / {} / {}", r.cancelled, r.disconnected, r.dropped_late),
    )
}

fn start(config: pool_testkit::ServerConfigBuilder) -> Result<TestServer, String> {
    TestServer::start(config.build()).map_err(|e| format!("cannot start a demo server: {e}"))
}

/// Polls the pool's counters until `done` (at most 5 s): for effects of messages still on
/// their way, instead of a guessed sleep.
async fn settle(pool: &Pool, done: impl Fn(&PoolStats) -> bool) -> PoolStats {
    let deadline = Instant::now().checked_add(Duration::from_secs(5));
    loop {
        let stats = pool.stats();
        if done(&stats) || deadline.is_some_and(|at| Instant::now() >= at) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn json_of<T: serde::de::DeserializeOwned>(
    reply: Result<pool_tokio::Reply, Error>,
) -> Result<T, String> {
    reply.and_then(|r| r.json()).map_err(|e| e.to_string())
}

fn expect(condition: bool, what: &str) -> Step {
    if condition {
        Ok(())
    } else {
        Err(format!("expected: {what}").into())
    }
}

fn heading(n: u32, title: &str) -> Step {
    stdout_line(format_args!("\n[{n}/{STEPS}] {title}")).map_err(Stop::Output)
}

/// How many steps the tour has.
const STEPS: u32 = 11;

fn show(what: &str, value: impl std::fmt::Display) -> Step {
    stdout_line(format_args!("  {what:<58} {value}")).map_err(Stop::Output)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
