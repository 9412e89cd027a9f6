//! `mmpool bench-events --json`: plain JSON lines, one per round and client, then a summary,
//! against the embedded publisher and against an `mmpool serve --stream` process (what
//! `scripts/bench-events.sh` runs). Short rounds; the figures are checked for presence and
//! sanity (events counted, nothing negative), never for speed.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use common::{run, Background, Run};
use serde_json::Value;

/// Stdout's lines, each one plain JSON object.
#[track_caller]
fn lines(r: &Run) -> Vec<Value> {
    r.stdout_lines()
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

/// Asserts a round line is sane and returns its client.
#[track_caller]
fn check_round(line: &Value, round: u64) -> String {
    assert_eq!(line["kind"], "round", "{line}");
    assert_eq!(line["round"].as_u64(), Some(round), "{line}");
    assert!(line["events"].as_u64().unwrap_or(0) > 0, "{line}");
    assert!(
        line["lost"].as_u64().is_some(),
        "lost is a count >= 0: {line}"
    );
    assert!(line["seconds"].as_f64().unwrap_or(0.0) > 0.0, "{line}");
    assert!(line["events_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{line}");
    let cpu = line["cpu_us_per_event"].as_f64().expect("cpu_us_per_event");
    assert!(cpu >= 0.0 && cpu.is_finite(), "{line}");
    line["client"].as_str().expect("client").to_owned()
}

/// Asserts the summary has a sane entry for `client` (`null` for one not measured).
#[track_caller]
fn check_summary_client(summary: &Value, client: &str, rounds: u64) {
    let c = &summary[client];
    assert_eq!(c["rounds"].as_u64(), Some(rounds), "{summary}");
    assert!(c["events_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{summary}");
    assert!(c["cpu_us_per_event"].as_f64().is_some(), "{summary}");
    assert!(
        c["lost_per_round"].as_f64().unwrap_or(-1.0) >= 0.0,
        "{summary}"
    );
}

#[test]
fn embedded_both_clients_print_a_line_per_round_then_a_summary() {
    let r = run(&[
        "bench-events",
        "--rounds",
        "2",
        "--duration",
        "0.3",
        "--json",
    ]);
    r.expect_code(0);
    assert_eq!(r.stderr, "", "{r:#?}");
    let lines = lines(&r);
    assert_eq!(lines.len(), 5, "2 rounds x 2 clients + summary: {r:#?}");
    // Alternating, raw first, each round numbered per client.
    let clients: Vec<String> = [(0, 1), (1, 1), (2, 2), (3, 2)]
        .iter()
        .map(|&(i, round)| check_round(&lines[i], round))
        .collect();
    assert_eq!(clients, ["raw", "pool", "raw", "pool"]);
    let summary = &lines[4];
    assert_eq!(summary["kind"], "summary", "{summary}");
    assert_eq!(summary["event"], "bench/tick", "{summary}");
    check_summary_client(summary, "raw", 2);
    check_summary_client(summary, "pool", 2);
    assert!(
        summary["pool_over_raw"]["events_per_s"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0,
        "{summary}"
    );
    assert!(
        summary["pool_over_raw"]["cpu_us_per_event"]
            .as_f64()
            .is_some(),
        "{summary}"
    );
    assert!(
        summary["peak_rss_kib"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
    assert!(summary["slow_consumer"].is_null(), "{summary}");
}

#[test]
fn an_external_publisher_from_serve_stream_one_client_at_a_time() {
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--id",
        "bench",
        "--stream",
        "bench/tick@2000",
    ]);
    let ready = serve.next_line().expect("READY");
    let endpoint = ready.strip_prefix("READY ").expect("READY <endpoint>");
    let publisher = serve.next_line().expect("PUBLISHER");
    let publisher = publisher
        .strip_prefix("PUBLISHER bench ")
        .expect("PUBLISHER bench <endpoint>")
        .to_owned();
    let server = format!("bench={endpoint}");
    for (client, other) in [("raw", "pool"), ("pool", "raw")] {
        let r = run(&[
            "bench-events",
            "--server",
            &server,
            "--publisher",
            &publisher,
            "--clients",
            client,
            "--rounds",
            "1",
            "--duration",
            "0.5",
            "--json",
        ]);
        r.expect_code(0);
        let lines = lines(&r);
        assert_eq!(lines.len(), 2, "one round + summary: {r:#?}");
        assert_eq!(check_round(&lines[0], 1), client);
        let summary = &lines[1];
        assert_eq!(summary["kind"], "summary", "{summary}");
        assert_eq!(summary["publisher"], publisher.as_str(), "{summary}");
        check_summary_client(summary, client, 1);
        assert!(summary[other].is_null(), "{summary}");
        assert!(
            summary["pool_over_raw"]["events_per_s"].is_null(),
            "{summary}"
        );
    }
    serve.signal("TERM");
    serve.finish().expect_code(0);
}
