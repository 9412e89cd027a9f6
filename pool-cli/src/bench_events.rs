//! `mmpool bench-events`: events per second and client CPU per event, for the pool's
//! subscription and a raw zeromq SUB socket, against the same publisher, in alternating rounds.
//!
//! The publisher is a testkit server started in this process (the default), streaming
//! `{"n":k}` as fast as its PUB socket takes them, or a running server's (`--server ID=ENDPOINT`,
//! its publisher by hololinked's convention or `--publisher`: `mmpool serve --stream`, or a
//! hololinked Thing pushing events). Each client subscribes, waits for the first event, then
//! counts for `--duration` seconds: events received, events lost (gaps in the payloads' `n`,
//! which the PUB dropped at its high-water mark or the pool's queue dropped as lag; unknown,
//! `null`, when the payloads carry no `n`), what the pool reported as `Lagged`, and this
//! process's CPU less the embedded publisher's threads.
//! `--slow` adds a run of the pool with a consumer that sleeps between events, sampling the
//! resident set each second: it must stay flat, the queue dropping the oldest and counting them.

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use futures::StreamExt;
use pool_measure::cpu::{CpuMark, CpuSpent};
use pool_measure::memory::peak_rss_kib;
use pool_measure::table::{Column, Table};
use pool_testkit::{EventStream, ServerConfig, TestServer};
use pool_tokio::{hololinked_event_endpoint, EventItem, Pool};
use serde_json::{json, Value};
use zeromq::{Socket, SocketRecv};

use crate::args::{count, positive_seconds, ServerArg};
use crate::call::usage;
use crate::escape::{escape_controls, json_text};
use crate::outcome::Exit;
use crate::output::{stderr_line, write_failed, write_stdout};

/// Which clients to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Clients {
    /// The pool's `subscribe_event`.
    Pool,
    /// A bare zeromq `SubSocket` (the baseline).
    Raw,
    /// Both, alternating round by round.
    Both,
}

/// Measure event throughput and CPU per event.
#[derive(Args, Debug)]
pub struct BenchEventsArgs {
    /// A running server, as ID=ENDPOINT, instead of an embedded one (its id is the Thing's
    /// unless --thing says otherwise).
    #[arg(long, value_name = "ID=ENDPOINT")]
    pub server: Option<ServerArg>,

    /// The server's event publisher, if not at hololinked's conventional endpoint.
    #[arg(long, value_name = "ENDPOINT", requires = "server")]
    pub publisher: Option<String>,

    /// The Thing whose event is measured (default: the server's id, `bench` when embedded).
    #[arg(long)]
    pub thing: Option<String>,

    /// The event name.
    #[arg(long, default_value = "tick")]
    pub event: String,

    /// With the embedded publisher: `"pad"` bytes added to each payload.
    #[arg(long, value_name = "BYTES", default_value = "0", value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    pub padding: u64,

    /// Which clients.
    #[arg(long, value_enum, default_value = "both")]
    pub clients: Clients,

    /// Timed seconds per round.
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = positive_seconds)]
    pub duration: Duration,

    /// Rounds per client (alternating when both are measured).
    #[arg(long, value_name = "N", default_value = "3", value_parser = count(100))]
    pub rounds: usize,

    /// Also run the pool with a consumer that sleeps this many milliseconds per event, and
    /// report its resident set over time.
    #[arg(long, value_name = "MS", value_parser = count(10_000))]
    pub slow: Option<usize>,

    /// JSON lines on stdout instead of the table: one per round and client as it ends
    /// (`"kind":"round"`: client, round, events, lost, lagged, seconds, events_per_s,
    /// cpu_us_per_event), then one `"kind":"summary"` line (the medians, the pool/raw ratios,
    /// the --slow run, peak RSS).
    #[arg(long)]
    pub json: bool,
}

/// One timed round of one client.
#[derive(Debug, Clone, Copy)]
struct Round {
    events: u64,
    /// Gaps in the payloads' `n`; `None` when no payload was numbered.
    lost: Option<u64>,
    /// What the pool's queue dropped and reported as `Lagged` (0 for the raw SUB).
    lagged: u64,
    seconds: f64,
    cpu_s: f64,
}

impl Round {
    fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }

    fn cpu_us_per_event(&self) -> f64 {
        self.cpu_s * 1e6 / self.events.max(1) as f64
    }
}

/// Runs `mmpool bench-events`.
pub async fn run(args: BenchEventsArgs) -> Exit {
    let embedded = args.server.is_none();
    let target = match &args.server {
        Some(server) => {
            let publisher = args
                .publisher
                .clone()
                .or_else(|| hololinked_event_endpoint(&server.id, &server.endpoint));
            let Some(publisher) = publisher else {
                return usage(
                    "no event publisher follows from the server's endpoint: give --publisher",
                );
            };
            Target {
                _server: None,
                id: server.id.clone(),
                endpoint: server.endpoint.clone(),
                publisher,
                thing: args.thing.clone().unwrap_or_else(|| server.id.clone()),
            }
        }
        None => match embedded_publisher(&args) {
            Ok(target) => target,
            Err(e) => return usage(&e),
        },
    };
    let topic = format!("{}/{}", target.thing, args.event);
    let mut rounds: Vec<(&'static str, Round)> = Vec::new();
    for _ in 0..args.rounds {
        for client in [Clients::Raw, Clients::Pool] {
            if args.clients != Clients::Both && args.clients != client {
                continue;
            }
            let round = match client {
                Clients::Raw => raw_round(&target.publisher, &topic, args.duration, embedded).await,
                _ => pool_round(&target, &args.event, args.duration, embedded, None).await,
            };
            match round {
                Ok((round, _)) => {
                    if args.json {
                        let line = round_line(client, rounds_of(&rounds, client) + 1, &round);
                        if let Err(e) = write_stdout(&format!("{}\n", json_text(&line))) {
                            return write_failed(&e);
                        }
                    }
                    rounds.push((name_of(client), round));
                }
                Err(e) => {
                    stderr_line(format_args!("error: {}", escape_controls(&e)));
                    return Exit::Unreachable;
                }
            }
        }
    }
    let slow = match args.slow {
        Some(ms) => {
            let pause = Duration::from_millis(ms as u64);
            match pool_round(
                &target,
                &args.event,
                args.duration * 3,
                embedded,
                Some(pause),
            )
            .await
            {
                Ok((round, rss)) => Some((round, rss)),
                Err(e) => {
                    stderr_line(format_args!("error: {}", escape_controls(&e)));
                    return Exit::Unreachable;
                }
            }
        }
        None => None,
    };
    let mut report = report(&args, &target, &rounds, slow.as_ref());
    drop(target);
    let text = if args.json {
        report["kind"] = Value::from("summary");
        format!("{}\n", json_text(&report))
    } else {
        table(&report)
    };
    match write_stdout(&text) {
        Ok(()) => Exit::Ok,
        Err(e) => write_failed(&e),
    }
}

/// How many rounds of `client` are done.
fn rounds_of(rounds: &[(&'static str, Round)], client: Clients) -> usize {
    rounds.iter().filter(|(n, _)| *n == name_of(client)).count()
}

/// The JSON line of one round (`--json`).
fn round_line(client: Clients, number: usize, round: &Round) -> Value {
    json!({
        "kind": "round",
        "client": match client {
            Clients::Raw => "raw",
            _ => "pool",
        },
        "round": number,
        "events": round.events,
        "lost": round.lost,
        "lagged": round.lagged,
        "seconds": pool_measure::summary::round(round.seconds, 4),
        "events_per_s": pool_measure::summary::round(round.rate(), 0),
        "cpu_us_per_event": pool_measure::summary::round(round.cpu_us_per_event(), 3),
    })
}

fn name_of(client: Clients) -> &'static str {
    match client {
        Clients::Raw => "raw zeromq SUB",
        _ => "pool subscription",
    }
}

/// Where the events come from.
struct Target {
    /// The embedded server, if this run started one (stopped when the target goes).
    _server: Option<TestServer>,
    /// The server's id and request endpoint (the pool needs the Thing's server).
    id: String,
    endpoint: String,
    /// The event publisher's endpoint.
    publisher: String,
    thing: String,
}

/// A testkit server in this process streaming the event as fast as possible.
fn embedded_publisher(args: &BenchEventsArgs) -> Result<Target, String> {
    let thing = args.thing.clone().unwrap_or_else(|| "bench".to_owned());
    let stream = EventStream::new(&thing, &args.event)
        .as_fast_as_possible()
        .padding(args.padding as usize);
    let config = ServerConfig::builder(&thing)
        .tcp()
        .event_stream(stream)
        .build();
    // Started from a thread named `testkit-start`, so that libzmq's threads inherit the name
    // and count as the publisher's CPU, not the client's (pool_measure::cpu).
    let server = std::thread::Builder::new()
        .name("testkit-start".to_owned())
        .spawn(move || TestServer::start(config))
        .map_err(|e| format!("embedded publisher: {e}"))?
        .join()
        .map_err(|_| "starting the embedded publisher panicked".to_owned())?
        .map_err(|e| format!("embedded publisher: {e}"))?;
    let endpoint = server
        .tcp_endpoint()
        .ok_or("the embedded server has no tcp endpoint")?
        .to_owned();
    let publisher = server
        .event_tcp_endpoint()
        .ok_or("the embedded server has no event endpoint")?
        .to_owned();
    Ok(Target {
        id: server.server_id().to_owned(),
        _server: Some(server),
        endpoint,
        publisher,
        thing,
    })
}

/// `n` of a `{"n":k,...}` payload.
fn n_of(payload: &[u8]) -> Option<u64> {
    // The payload starts `{"n":` (JSON spaces allowed, as Python's json.dumps writes them) and
    // the number ends at `,` or `}`: cheaper than parsing it, and the same for both clients.
    let skip = |b: &[u8]| -> usize { b.iter().take_while(|c| c.is_ascii_whitespace()).count() };
    let rest = payload.strip_prefix(b"{")?;
    let rest = rest[skip(rest)..].strip_prefix(b"\"n\"")?;
    let rest = rest[skip(rest)..].strip_prefix(b":")?;
    let rest = &rest[skip(rest)..];
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// Counts gaps in `n`.
#[derive(Default)]
struct Gaps {
    last: Option<u64>,
    lost: u64,
}

impl Gaps {
    /// The events missing between the numbered ones seen, if any was.
    fn lost(&self) -> Option<u64> {
        self.last.map(|_| self.lost)
    }

    fn see(&mut self, n: u64) {
        if let Some(last) = self.last {
            self.lost += n.saturating_sub(last + 1);
        }
        self.last = Some(n);
    }
}

/// One round of a bare zeromq SUB socket.
async fn raw_round(
    endpoint: &str,
    topic: &str,
    duration: Duration,
    embedded: bool,
) -> Result<(Round, Vec<u64>), String> {
    let mut socket = zeromq::SubSocket::new();
    socket
        .subscribe(topic)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    socket
        .connect(endpoint)
        .await
        .map_err(|e| format!("connect {endpoint}: {e}"))?;
    let first = tokio::time::timeout(Duration::from_secs(10), socket.recv()).await;
    if !matches!(first, Ok(Ok(_))) {
        return Err(format!("no event from {endpoint} in 10 s"));
    }
    let mut gaps = Gaps::default();
    let mut events = 0u64;
    let start = Instant::now();
    let cpu = CpuMark::now(None);
    let deadline = tokio::time::Instant::now() + duration;
    loop {
        let message = tokio::select! {
            m = socket.recv() => m.map_err(|e| format!("receive: {e}"))?,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        if message.len() != 5 {
            return Err(format!("a message of {} frames", message.len()));
        }
        if let Some(n) = message.get(3).and_then(|p| n_of(p)) {
            gaps.see(n);
        }
        events += 1;
    }
    let spent = CpuSpent::between(cpu, CpuMark::now(None), embedded);
    let round = Round {
        events,
        lost: gaps.lost(),
        lagged: 0,
        seconds: start.elapsed().as_secs_f64(),
        cpu_s: spent.client_s,
    };
    Ok((round, Vec::new()))
}

/// One round of the pool (a fresh pool each round); with `pause`, a slow consumer, and the
/// resident set sampled each second.
async fn pool_round(
    target: &Target,
    event: &str,
    duration: Duration,
    embedded: bool,
    pause: Option<Duration>,
) -> Result<(Round, Vec<u64>), String> {
    let mut builder = Pool::builder()
        .server(&target.id, &target.endpoint)
        .publisher(&target.id, &target.publisher);
    if target.thing != target.id {
        builder = builder.thing(&target.thing, &target.id);
    }
    let pool = builder.build().map_err(|e| e.to_string())?;
    let mut sub = pool
        .subscribe_event(&target.thing, event)
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(_)) => {}
        _ => return Err(format!("no event from {} in 10 s", target.publisher)),
    }
    let mut gaps = Gaps::default();
    let mut lagged = 0u64;
    let mut events = 0u64;
    let mut rss = Vec::new();
    let mut next_sample = Instant::now();
    let start = Instant::now();
    let cpu = CpuMark::now(None);
    let deadline = tokio::time::Instant::now() + duration;
    loop {
        let item = tokio::select! {
            item = sub.next() => item.ok_or("the subscription ended")?,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        match item {
            EventItem::Event(e) => {
                if let Some(n) = n_of(e.payload()) {
                    gaps.see(n);
                }
                events += 1;
            }
            EventItem::Lagged(n) => lagged += n,
            EventItem::Disconnected | EventItem::Reconnected => {
                return Err("the publisher connection broke during the round".into())
            }
        }
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
            if Instant::now() >= next_sample {
                rss.push(current_rss_kib().unwrap_or(0));
                next_sample += Duration::from_secs(1);
            }
        }
    }
    let spent = CpuSpent::between(cpu, CpuMark::now(None), embedded);
    let round = Round {
        events,
        lost: gaps.lost(),
        lagged,
        seconds: start.elapsed().as_secs_f64(),
        cpu_s: spent.client_s,
    };
    drop(sub);
    pool.shutdown().await;
    Ok((round, rss))
}

/// The resident set now (`VmRSS`), in KiB.
fn current_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    pool_measure::summary::median(values.collect())
}

fn report(
    args: &BenchEventsArgs,
    target: &Target,
    rounds: &[(&'static str, Round)],
    slow: Option<&(Round, Vec<u64>)>,
) -> Value {
    let client = |name: &str| {
        let of: Vec<&Round> = rounds
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, r)| r)
            .collect();
        if of.is_empty() {
            return Value::Null;
        }
        let med = |f: fn(&Round) -> f64| median(of.iter().map(|r| f(r)));
        json!({
            "rounds": of.len(),
            "events_per_s": pool_measure::summary::round(med(Round::rate), 0),
            "cpu_us_per_event": pool_measure::summary::round(med(Round::cpu_us_per_event), 3),
            // Null when no payload was numbered (a publisher that does not send `{"n":k}`).
            "lost_per_round": if of.iter().all(|r| r.lost.is_some()) {
                Value::from(med(|r| r.lost.unwrap_or_default() as f64))
            } else {
                Value::Null
            },
            "lagged_per_round": med(|r| r.lagged as f64),
        })
    };
    let raw = client(name_of(Clients::Raw));
    let pool = client(name_of(Clients::Pool));
    let ratio = |key: &str| match (raw[key].as_f64(), pool[key].as_f64()) {
        (Some(r), Some(p)) if r > 0.0 => Value::from(pool_measure::summary::round(p / r, 3)),
        _ => Value::Null,
    };
    json!({
        "publisher": target.publisher,
        "event": format!("{}/{}", target.thing, args.event),
        "padding": args.padding,
        "seconds_per_round": args.duration.as_secs_f64(),
        "raw": raw,
        "pool": pool,
        "pool_over_raw": {"events_per_s": ratio("events_per_s"), "cpu_us_per_event": ratio("cpu_us_per_event")},
        "slow_consumer": slow.map(|(round, rss)| json!({
            "pause_ms": args.slow,
            "events": round.events,
            "lost": round.lost,
            "lagged": round.lagged,
            "rss_kib_samples": rss,
        })),
        "peak_rss_kib": peak_rss_kib(),
    })
}

fn table(report: &Value) -> String {
    let mut t = Table::new(vec![
        Column::left("client"),
        Column::right("events/s"),
        Column::right("CPU/event").unit("µs"),
        Column::right("lost/round"),
    ]);
    for (key, name) in [("raw", "raw zeromq SUB"), ("pool", "pool subscription")] {
        let c = &report[key];
        if c.is_null() {
            continue;
        }
        t.row([
            name.to_owned(),
            c["events_per_s"].to_string(),
            c["cpu_us_per_event"].to_string(),
            match &c["lost_per_round"] {
                Value::Null => "unnumbered".to_owned(),
                lost => lost.to_string(),
            },
        ]);
    }
    let mut text = format!(
        "events {} from {} ({} s rounds)\n{}",
        report["event"],
        report["publisher"],
        report["seconds_per_round"],
        t.render()
    );
    let r = &report["pool_over_raw"];
    if !r["events_per_s"].is_null() {
        text.push_str(&format!(
            "pool / raw: {}× the rate, {}× the CPU per event\n",
            r["events_per_s"], r["cpu_us_per_event"]
        ));
    }
    if let Some(slow) = report["slow_consumer"].as_object() {
        text.push_str(&format!(
            "slow consumer ({} ms per event): {} events read, {} lost ({} of them reported as Lagged); RSS KiB each second: {}\n",
            slow["pause_ms"], slow["events"], slow["lost"], slow["lagged"], slow["rss_kib_samples"]
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{n_of, Gaps};

    #[test]
    fn n_is_read_with_or_without_json_spaces_and_nothing_else_is_a_number() {
        assert_eq!(n_of(br#"{"n":42}"#), Some(42));
        assert_eq!(n_of(br#"{"n":7,"pad":"xx"}"#), Some(7));
        assert_eq!(n_of(br#"{ "n" : 3 }"#), Some(3));
        assert_eq!(n_of(br#"{"n": 1234, "t": 0.5}"#), Some(1234));
        for other in [
            &br#"{"m":1}"#[..],
            b"42",
            br#"{"n":"1"}"#,
            br#"{"n":}"#,
            b"",
            b"{",
        ] {
            assert_eq!(n_of(other), None, "{:?}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn gaps_are_unknown_until_a_numbered_event_and_counted_after() {
        let mut gaps = Gaps::default();
        assert_eq!(gaps.lost(), None);
        gaps.see(5);
        assert_eq!(gaps.lost(), Some(0));
        gaps.see(6);
        gaps.see(10);
        assert_eq!(gaps.lost(), Some(3));
    }
}
