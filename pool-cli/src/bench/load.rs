//! The closed loop: `inflight` requests always in flight, each refilled as one completes,
//! every reply checked.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use pool_tokio::{Error, Pool, Reply, Request};

use super::number::thousands;
use crate::outcome::{exit_of, kind_of, message_of, Exit};
use pool_measure::{CpuMark, CpuSpent, Histogram};

/// What each request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Operation {
    /// `readproperty number`: the reply must be a JSON number.
    Number,
    /// `invokeaction echo {"value": <sequence number>}`: the reply must be that number.
    Echo,
}

impl Operation {
    /// How reports name it.
    pub fn describe(self) -> &'static str {
        match self {
            Operation::Number => "readproperty number",
            Operation::Echo => "invokeaction echo",
        }
    }

    fn request(self, thing: &str, seq: u64) -> Request {
        match self {
            Operation::Number => Request::read_property(thing, "number"),
            Operation::Echo => {
                Request::invoke_action(thing, "echo").kwargs(&serde_json::json!({ "value": seq }))
            }
        }
    }

    /// `Err` with a one-line reason when `reply` is not what request `seq` must get back.
    fn check(self, reply: &Reply, seq: u64) -> Result<(), String> {
        match self {
            Operation::Number => match serde_json::from_slice::<f64>(reply.payload()) {
                Ok(_) => Ok(()),
                Err(e) => Err(format!(
                    "{}: the reply to readproperty number is not a number ({e}): {}",
                    reply.thing(),
                    String::from_utf8_lossy(reply.payload())
                )),
            },
            Operation::Echo => match serde_json::from_slice::<u64>(reply.payload()) {
                Ok(got) if got == seq => Ok(()),
                _ => Err(format!(
                    "{}: echo of {seq} came back as {}",
                    reply.thing(),
                    String::from_utf8_lossy(reply.payload())
                )),
            },
        }
    }
}

/// The loop's settings.
#[derive(Clone, Debug)]
pub struct Load {
    /// Requests kept in flight.
    pub inflight: usize,
    /// Untimed run before the measurement.
    pub warmup: Duration,
    /// The measurement.
    pub duration: Duration,
    /// What each request asks.
    pub operation: Operation,
    /// The Things, cycled through.
    pub things: Vec<String>,
    /// The external server's pid, whose CPU time is read too.
    pub server_pid: Option<u32>,
    /// Whether the servers are threads of this process.
    pub embedded: bool,
}

/// Counters the progress line reads while the loop runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Replies (good or bad) since the start, warm-up included.
    pub completed: AtomicU64,
    /// Failed requests since the start.
    pub errors: AtomicU64,
}

/// Failed requests, by kind.
#[derive(Debug, Default)]
pub struct Errors {
    /// Count per kind (`timeout`, `remote_exception`, `bad_reply`, ...).
    pub by_kind: BTreeMap<&'static str, u64>,
    /// The first one, as one line, and its exit code.
    pub first: Option<(String, Exit)>,
}

impl Errors {
    fn add(&mut self, kind: &'static str, message: String, exit: Exit) {
        *self.by_kind.entry(kind).or_default() += 1;
        if self.first.is_none() {
            self.first = Some((message, exit));
        }
    }

    /// How many requests failed.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

/// What one run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Requests completed (answered or failed) inside the timed window.
    pub requests: u64,
    /// Of those, the ones that failed.
    pub window_errors: u64,
    /// The timed window's length.
    pub elapsed: Duration,
    /// Round-trip times of the good replies inside the window (request made to reply checked).
    pub latency: Histogram,
    /// CPU time inside the window.
    pub cpu: CpuSpent,
    /// Every request of the run: warm-up, window and the drain after it.
    pub requests_total: u64,
    /// Every failure of the run (warm-up, window and drain).
    pub errors: Errors,
}

/// One request in flight: when it was made, its sequence number, its result.
fn issue(
    pool: &Pool,
    load: &Load,
    seq: u64,
    sent: Instant,
) -> Result<impl Future<Output = (Instant, u64, Result<Reply, Error>)>, Error> {
    let thing = &load.things[(seq % load.things.len() as u64) as usize];
    let pending = pool.request(load.operation.request(thing, seq))?;
    Ok(pending.map(move |result| (sent, seq, result)))
}

/// Runs the loop: warm-up, timed window, then waits for what is still in flight (nothing is
/// cancelled, every reply is checked).
pub async fn run(pool: &Pool, load: &Load, progress: &Progress) -> Outcome {
    let mut in_flight = FuturesUnordered::new();
    let mut errors = Errors::default();
    let mut latency = Histogram::default();
    let mut seq = 0u64;
    let start = Instant::now();
    // `None`: past the end of the clock, never (the CLI caps durations far below that).
    let window_at = start.checked_add(load.warmup);
    let end_at = window_at.and_then(|at| at.checked_add(load.duration));
    let reached = |at: Option<Instant>, now: Instant| at.is_some_and(|at| now >= at);

    // `sent` is the clock read that ended the previous request (one read a request serves
    // both its latency and the next one's start).
    let fill =
        |in_flight: &mut FuturesUnordered<_>, errors: &mut Errors, seq: &mut u64, sent: Instant| {
            let result = issue(pool, load, *seq, sent);
            *seq += 1;
            match result {
                Ok(future) => in_flight.push(future),
                Err(e) => {
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                    errors.add(kind_of(&e), message_of(&e), exit_of(&e));
                }
            }
        };
    for _ in 0..load.inflight {
        fill(&mut in_flight, &mut errors, &mut seq, Instant::now());
    }

    let mut window: Option<(Instant, CpuMark, u64, u64)> = None; // start, cpu, completed, errors
    let mut completed = 0u64;
    let mut outcome_at_end = None;
    while let Some((sent, n, result)) = in_flight.next().await {
        let now = Instant::now();
        completed += 1;
        progress.completed.store(completed, Ordering::Relaxed);
        let good = match result {
            Ok(reply) => match load.operation.check(&reply, n) {
                Ok(()) => true,
                Err(message) => {
                    errors.add("bad_reply", message, Exit::InvalidMessage);
                    false
                }
            },
            Err(e) => {
                errors.add(kind_of(&e), message_of(&e), exit_of(&e));
                false
            }
        };
        if !good {
            progress.errors.fetch_add(1, Ordering::Relaxed);
        }
        if window.is_none() && reached(window_at, now) {
            window = Some((
                now,
                CpuMark::now(load.server_pid),
                completed,
                errors.total(),
            ));
        }
        if let Some((window_start, cpu, before, errors_before)) = window {
            if good && outcome_at_end.is_none() {
                latency.record(now - sent);
            }
            if outcome_at_end.is_none() && reached(end_at, now) {
                let cpu = CpuSpent::between(cpu, CpuMark::now(load.server_pid), load.embedded);
                outcome_at_end = Some((
                    completed - before,
                    errors.total() - errors_before,
                    now - window_start,
                    cpu,
                ));
                // Stop refilling; drain what is in flight.
                continue;
            }
        }
        if outcome_at_end.is_none() {
            fill(&mut in_flight, &mut errors, &mut seq, now);
        }
    }
    let (requests, window_errors, elapsed, cpu) = outcome_at_end.unwrap_or_else(|| {
        // Everything failed at once (nothing left in flight before the window ended).
        let spent = CpuSpent {
            client_s: 0.0,
            server_s: None,
        };
        (0, 0, start.elapsed(), spent)
    });
    Outcome {
        requests,
        window_errors,
        elapsed,
        latency,
        cpu,
        requests_total: seq,
        errors,
    }
}

/// The progress line's text.
pub fn progress_line(
    progress: &Arc<Progress>,
    started: Instant,
    last: &mut (Instant, u64),
) -> String {
    let now = Instant::now();
    let completed = progress.completed.load(Ordering::Relaxed);
    let errors = progress.errors.load(Ordering::Relaxed);
    let dt = (now - last.0).as_secs_f64().max(1e-9);
    let rate = (completed - last.1) as f64 / dt;
    *last = (now, completed);
    format!(
        "{:6.1} s  {:>12} req/s  {:>12} replies  {} errors",
        (now - started).as_secs_f64(),
        thousands(rate),
        thousands(completed as f64),
        errors
    )
}
