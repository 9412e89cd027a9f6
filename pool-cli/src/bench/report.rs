//! The results: a table for a person, or one JSON object (`--json`).

use std::fmt::Write as _;

use pool_measure::{per_request_us, round, Table};
use serde_json::{json, Value};

use super::load::Outcome;
use super::number::thousands;
use crate::escape::escape_controls;

/// Everything a report says about one run.
#[derive(Debug)]
pub struct Summary {
    /// `embedded` or `servers`.
    pub target: &'static str,
    /// Servers, and Things the requests cycle through.
    pub servers: usize,
    /// Things the requests cycle through.
    pub things: usize,
    /// The embedded servers' transport, or the given endpoints.
    pub endpoints: Vec<String>,
    /// What each request asks.
    pub request: &'static str,
    /// Requests kept in flight.
    pub inflight: usize,
    /// The pool's cap per server.
    pub max_in_flight_per_server: u32,
    /// Warm-up and window in seconds.
    pub warmup_s: f64,
    /// The measured run.
    pub outcome: Outcome,
    /// Peak RSS (`VmHWM`) in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Threads of this process at the end.
    pub threads: usize,
    /// Messages the pool dropped during the run (late, unknown or malformed replies).
    pub dropped: u64,
    /// Servers lost during the run.
    pub servers_lost: u64,
}

impl Summary {
    /// Good replies per second inside the window.
    pub fn req_per_s(&self) -> f64 {
        let o = &self.outcome;
        (o.requests - o.window_errors) as f64 / o.elapsed.as_secs_f64().max(1e-9)
    }

    /// Client CPU µs per request inside the window.
    pub fn client_cpu_us(&self) -> f64 {
        per_request_us(self.outcome.cpu.client_s, self.outcome.requests)
    }

    /// Server CPU µs per request inside the window, when known.
    pub fn server_cpu_us(&self) -> Option<f64> {
        let requests = self.outcome.requests;
        self.outcome
            .cpu
            .server_s
            .map(|s| per_request_us(s, requests))
    }
}

/// The `--json` object.
pub fn to_json(s: &Summary) -> Value {
    let o = &s.outcome;
    let l = &o.latency;
    json!({
        "bench": "mmpool",
        "client": "pool-tokio",
        "version": env!("CARGO_PKG_VERSION"),
        "target": s.target,
        "servers": s.servers,
        "things": s.things,
        "endpoints": s.endpoints,
        "request": s.request,
        "inflight": s.inflight,
        "max_in_flight_per_server": s.max_in_flight_per_server,
        "warmup_s": s.warmup_s,
        "duration_s": round(o.elapsed.as_secs_f64(), 4),
        "requests": o.requests,
        "errors": o.errors.total(),
        "window_errors": o.window_errors,
        "errors_by_kind": o.errors.by_kind,
        "first_error": o.errors.first.as_ref().map(|(m, _)| m.clone()),
        "requests_total": o.requests_total,
        "req_per_s": round(s.req_per_s(), 1),
        "latency_us": l.summary().to_json(),
        "client_cpu_us_per_req": round(s.client_cpu_us(), 3),
        "server_cpu_us_per_req": s.server_cpu_us().map(|x| round(x, 3)),
        "client_cpu_s": round(o.cpu.client_s, 3),
        "server_cpu_s": o.cpu.server_s.map(|x| round(x, 3)),
        "peak_rss_kib": s.peak_rss_kib,
        "threads": s.threads,
        "pool_dropped": s.dropped,
        "servers_lost": s.servers_lost,
    })
}

/// Up to three endpoints, or the first two and how many there are in all.
fn endpoints_in_brief(endpoints: &[String]) -> String {
    if endpoints.len() <= 3 {
        endpoints.join(", ")
    } else {
        format!(
            "{}, … {} in all",
            endpoints[..2].join(", "),
            endpoints.len()
        )
    }
}

/// The table for a person.
pub fn to_table(s: &Summary) -> String {
    let o = &s.outcome;
    let l = &o.latency;
    let mut t = String::new();
    let where_ = match s.target {
        "embedded" => format!(
            "{} embedded testkit server{} ({})",
            s.servers,
            if s.servers == 1 { "" } else { "s" },
            s.endpoints
                .first()
                .map_or("", |e| e.split(':').next().unwrap_or(""))
        ),
        _ => format!(
            "{} server{} ({})",
            s.servers,
            if s.servers == 1 { "" } else { "s" },
            endpoints_in_brief(&s.endpoints)
        ),
    };
    let _ = writeln!(
        t,
        "mmpool bench: {}, {} in flight over {} Thing{} on {}; {:.1} s after {:.1} s warm-up",
        s.request,
        s.inflight,
        s.things,
        if s.things == 1 { "" } else { "s" },
        where_,
        o.elapsed.as_secs_f64(),
        s.warmup_s
    );
    let mut rows = Table::key_value().indent(2);
    let mut row = |name: &str, value: String| rows.row([name.to_owned(), value]);
    row("throughput", format!("{} req/s", thousands(s.req_per_s())));
    row(
        "requests",
        format!(
            "{} in the window ({} in all, warm-up and drain included)",
            thousands(o.requests as f64),
            thousands(o.requests_total as f64)
        ),
    );
    let mut errors = o.errors.total().to_string();
    if !o.errors.by_kind.is_empty() {
        let kinds: Vec<String> = o
            .errors
            .by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = write!(errors, " ({})", kinds.join(", "));
    }
    row("errors", errors);
    if let Some((first, _)) = &o.errors.first {
        // Often a server's text.
        row("first error", escape_controls(first).into_owned());
    }
    row(
        "latency",
        format!(
            "p50 {:.1} µs  p90 {:.1} µs  p99 {:.1} µs  max {:.1} µs  (mean {:.1} µs)",
            l.quantile_us(0.5),
            l.quantile_us(0.9),
            l.quantile_us(0.99),
            l.max_us(),
            l.mean_us()
        ),
    );
    let whose = if s.target == "embedded" {
        "this process less the embedded servers' threads"
    } else {
        "this process"
    };
    row(
        "client CPU",
        format!("{:.2} µs/request ({whose})", s.client_cpu_us()),
    );
    if let Some(server) = s.server_cpu_us() {
        let whose = if s.target == "embedded" {
            "the embedded servers' threads"
        } else {
            "--server-pid"
        };
        row("server CPU", format!("{server:.2} µs/request ({whose})"));
    }
    if let Some(kib) = s.peak_rss_kib {
        let whose = if s.target == "embedded" {
            "whole process, embedded servers included"
        } else {
            "whole process"
        };
        row(
            "peak RSS",
            format!(
                "{:.1} MiB ({whose}; {} threads)",
                kib as f64 / 1024.0,
                s.threads
            ),
        );
    }
    if s.dropped > 0 || s.servers_lost > 0 {
        row(
            "pool",
            format!(
                "{} messages dropped, {} servers lost",
                s.dropped, s.servers_lost
            ),
        );
    }
    t.push_str(&rows.render());
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::Errors;
    use crate::escape::is_unsafe;
    use crate::outcome::Exit;
    use pool_measure::{CpuSpent, Histogram};

    #[test]
    fn a_servers_text_in_the_first_error_is_escaped_in_the_table_not_in_json() {
        let first = "srv: remote ValueError: \x1b[2J\rfake\n\u{9b}1m\x7f".to_owned();
        let mut errors = Errors::default();
        errors.by_kind.insert("remote_exception", 1);
        errors.first = Some((first.clone(), Exit::RemoteException));
        let summary = Summary {
            target: "servers",
            servers: 1,
            things: 1,
            endpoints: vec!["tcp://127.0.0.1:1".to_owned()],
            request: "readproperty number",
            inflight: 1,
            max_in_flight_per_server: 500,
            warmup_s: 0.0,
            outcome: Outcome {
                requests: 1,
                window_errors: 1,
                elapsed: std::time::Duration::from_secs(1),
                latency: Histogram::default(),
                cpu: CpuSpent {
                    client_s: 0.0,
                    server_s: None,
                },
                requests_total: 1,
                errors,
            },
            peak_rss_kib: None,
            threads: 1,
            dropped: 0,
            servers_lost: 0,
        };
        let table = to_table(&summary);
        assert!(
            !table.chars().any(|c| c != '\n' && is_unsafe(c)),
            "{table:?}"
        );
        assert!(
            table.contains("\\u{1b}[2J\\rfake\\n\\u{9b}1m\\u{7f}"),
            "{table}"
        );
        let json = crate::escape::json_text(&to_json(&summary));
        assert!(!json.chars().any(is_unsafe), "{json}");
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["first_error"], Value::String(first));
    }

    #[test]
    fn many_endpoints_are_named_in_brief() {
        let e = |n: usize| -> Vec<String> { (0..n).map(|i| format!("tcp://h:{i}")).collect() };
        assert_eq!(endpoints_in_brief(&e(1)), "tcp://h:0");
        assert_eq!(endpoints_in_brief(&e(3)), "tcp://h:0, tcp://h:1, tcp://h:2");
        assert_eq!(
            endpoints_in_brief(&e(256)),
            "tcp://h:0, tcp://h:1, … 256 in all"
        );
    }
}
