//! `mmpool watch`: a Thing's events (or an observable property's changes), one JSON line each.
//!
//! Every line is an object with a `"kind"`: `"event"` (with `seq`, `thing`, `event`,
//! `message_id`, `content_type` and the `payload`: JSON when the payload is JSON, else
//! `payload_base64`), `"lagged"` (with `events`: dropped because stdout was read too slowly),
//! `"disconnected"` and `"reconnected"` (the publisher went away and came back; what it
//! published meanwhile is lost). Text from the server reaches the terminal only inside JSON
//! strings, escaped.

use std::time::Duration;

use base64::Engine as _;
use clap::Args;
use futures::StreamExt;
use pool_tokio::{Event, EventItem, Subscription};
use serde_json::{json, Value};

use crate::args::{count, positive_seconds, seconds, Servers, MAX_INFLIGHT};
use crate::call::usage;
use crate::escape::{escape_controls, json_text};
use crate::outcome::Exit;
use crate::output::{stderr_line, stdout_line, write_failed};
use crate::stop_signals::StopSignals;

/// Subscribe to one event of one Thing and print each as a JSON line.
#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub servers: Servers,

    /// The event publisher of a server, as ID=ENDPOINT (by default hololinked's convention:
    /// the next tcp port, or `<id>.event-publisher.ipc` beside the server's ipc socket).
    /// Repeatable.
    #[arg(long = "publisher", value_name = "ID=ENDPOINT")]
    pub publishers: Vec<crate::args::ServerArg>,

    /// Observe this observable property instead of an event (its `<NAME>_change_event`).
    #[arg(long, value_name = "NAME", conflicts_with = "event")]
    pub property: Option<String>,

    /// Stop after this many events (exit 0; with --duration, exit 5 if they did not come in
    /// time).
    #[arg(long, value_name = "N", value_parser = count(MAX_INFLIGHT))]
    pub count: Option<usize>,

    /// Stop after this many seconds (exit 0, unless --count was not reached: 5).
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub duration: Option<Duration>,

    /// Warn on stderr if the publisher is not connected after this many seconds (the watch
    /// goes on trying).
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "5")]
    pub connect_timeout: Duration,

    /// The Thing.
    pub thing: String,

    /// The event's name (not needed with --property).
    #[arg(required_unless_present = "property")]
    pub event: Option<String>,
}

/// Runs `mmpool watch` until --count, --duration, Ctrl-C (SIGINT) or SIGTERM.
pub async fn run(args: WatchArgs) -> Exit {
    // Listen for the stop signals first: one that came before its handler was installed would
    // kill the process (exit by signal) instead of ending the watch cleanly.
    let stop = match StopSignals::listen() {
        Ok(stop) => stop,
        Err(e) => {
            stderr_line(format_args!("error: cannot listen for signals: {e}"));
            return Exit::Failed;
        }
    };
    let mut servers = args.servers.clone();
    if let [only] = servers.servers.as_slice() {
        if !servers.knows(&args.thing) {
            servers.things.push(crate::args::ThingArg {
                thing: args.thing.clone(),
                server: only.id.clone(),
            });
        }
    }
    let mut builder = servers.builder();
    for publisher in &args.publishers {
        builder = builder.publisher(&publisher.id, &publisher.endpoint);
    }
    let pool = match builder.build() {
        Ok(pool) => pool,
        Err(e) => return usage(&e.to_string()),
    };
    let subscription = match (&args.property, &args.event) {
        (Some(property), _) => pool.observe_property(&args.thing, property),
        (None, Some(event)) => pool.subscribe_event(&args.thing, event),
        (None, None) => return usage("name an event or --property"),
    };
    let subscription = match subscription {
        Ok(subscription) => subscription,
        Err(e) => return usage(&e.to_string()),
    };
    let exit = watch(subscription, &args, stop).await;
    pool.shutdown().await;
    exit
}

/// Prints the subscription's items until --count, --duration or a stop signal (exit 0).
async fn watch(mut subscription: Subscription, args: &WatchArgs, mut stop: StopSignals) -> Exit {
    let started = tokio::time::Instant::now();
    let until = args.duration.map(|d| started + d);
    let mut warn_at = Some(started + args.connect_timeout);
    let mut events = 0usize;
    loop {
        if args.count.is_some_and(|n| events >= n) {
            return Exit::Ok;
        }
        let far = started + Duration::from_secs(crate::args::MAX_SECONDS);
        let wake_at = [until, warn_at].into_iter().flatten().min().unwrap_or(far);
        let item = tokio::select! {
            item = subscription.next() => item,
            _ = tokio::time::sleep_until(wake_at) => {
                if until.is_some_and(|u| tokio::time::Instant::now() >= u) {
                    return if args.count.is_some() { timed_out(events, args) } else { Exit::Ok };
                }
                if warn_at.take().is_some() && !subscription.is_connected() {
                    stderr_line(format_args!(
                        "warning: the event publisher at {} is not connected after {:?} (still trying)",
                        escape_controls(subscription.publisher_endpoint()),
                        args.connect_timeout
                    ));
                }
                continue;
            }
            () = stop.recv() => return Exit::Ok,
        };
        let Some(item) = item else {
            stderr_line("error: the subscription ended (the pool closed)");
            return Exit::Unreachable;
        };
        if matches!(item, EventItem::Event(_)) {
            events += 1;
        }
        if let Err(e) = stdout_line(json_text(&line_of(&item))) {
            return write_failed(&e);
        }
    }
}

fn timed_out(events: usize, args: &WatchArgs) -> Exit {
    stderr_line(format_args!(
        "error: {events} of {} events within {:?}",
        args.count.unwrap_or_default(),
        args.duration.unwrap_or_default()
    ));
    Exit::ClientTimeout
}

/// The JSON line of one item.
pub fn line_of(item: &EventItem) -> Value {
    match item {
        EventItem::Event(event) => event_line(event),
        EventItem::Lagged(n) => json!({"kind": "lagged", "events": n}),
        EventItem::Disconnected => json!({"kind": "disconnected"}),
        EventItem::Reconnected => json!({"kind": "reconnected"}),
    }
}

fn event_line(event: &Event) -> Value {
    let mut line = json!({
        "kind": "event",
        "seq": event.seq(),
        "thing": event.thing(),
        "event": event.event_id(),
        "message_id": event.message_id(),
        "content_type": event.payload_content_type(),
    });
    let payload = event
        .value()
        .ok()
        .filter(|_| event.payload_content_type() == pool_tokio::pool_core::wire::CONTENT_TYPE_JSON);
    match payload {
        Some(value) => line["payload"] = value,
        None => {
            line["payload_base64"] =
                Value::String(base64::engine::general_purpose::STANDARD.encode(event.payload()))
        }
    }
    if !event.preserialized().is_empty() {
        line["preserialized_base64"] =
            Value::String(base64::engine::general_purpose::STANDARD.encode(event.preserialized()));
    }
    line
}
