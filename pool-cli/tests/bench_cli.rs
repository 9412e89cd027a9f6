//! `mmpool bench` end to end: a short run against an embedded server with `--json`, one over
//! many servers of one `mmpool serve --servers K` process, and the one-line usage error of a bad
//! `--server` endpoint.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]
#![forbid(unsafe_code)]

mod common;

use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

fn mmpool() -> Command {
    let mut cmd = Command::cargo_bin("mmpool").expect("the mmpool binary");
    cmd.timeout(Duration::from_secs(60));
    cmd
}

#[test]
fn embedded_run_prints_one_json_object() {
    let out = mmpool()
        .args([
            "bench",
            "--embedded",
            "--duration",
            "1",
            "--inflight",
            "50",
            "--warmup",
            "0.2",
            "--json",
        ])
        .output()
        .expect("run mmpool bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    assert_eq!(
        stdout.trim_end().lines().count(),
        1,
        "one JSON line: {stdout}"
    );
    let report: Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    let requests = report["requests"].as_u64().expect("requests");
    assert!(requests > 0, "{report}");
    assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
    assert_eq!(report["inflight"].as_u64(), Some(50));
    assert_eq!(report["target"], "embedded");
    assert!(
        report["req_per_s"].as_f64().unwrap_or(0.0) > 0.0,
        "{report}"
    );
    let p50 = report["latency_us"]["p50"].as_f64().expect("p50");
    let p99 = report["latency_us"]["p99"].as_f64().expect("p99");
    assert!(p50 > 0.0 && p99 >= p50, "{report}");
    assert!(
        report["client_cpu_us_per_req"].as_f64().is_some(),
        "{report}"
    );
    assert!(report["peak_rss_kib"].as_u64().unwrap_or(0) > 0, "{report}");
}

#[test]
fn bad_server_endpoint_is_one_line_and_exit_2() {
    let out = mmpool()
        .args([
            "bench",
            "--server",
            "srv=nonsense://nowhere",
            "--duration",
            "1",
        ])
        .output()
        .expect("run mmpool bench");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(stderr.contains("nonsense://nowhere"), "{stderr:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn needs_a_server_or_embedded() {
    let out = mmpool().args(["bench"]).output().expect("run mmpool bench");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = mmpool()
        .args(["bench", "--embedded", "--server", "a=tcp://127.0.0.1:1"])
        .output()
        .expect("run mmpool bench");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = mmpool()
        .args(["bench", "--server", "a=tcp://127.0.0.1:1", "--servers", "3"])
        .output()
        .expect("run mmpool bench");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
}

/// More servers than the pool's default `max_servers` (64), all in one other process: every
/// request answered and checked, none failed, the server process's CPU reported.
#[test]
fn run_over_many_servers_of_one_serve_process_answers_every_request() {
    let k = 80;
    let k_text = k.to_string();
    let mut serve = common::Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--id",
        "farm",
        "--servers",
        &k_text,
        "--send-hwm",
        "0",
    ]);
    let servers: Vec<String> = (0..k)
        .map(|i| {
            let line = serve.next_line().expect("a READY line");
            let (endpoint, id) = line
                .strip_prefix("READY ")
                .and_then(|rest| rest.split_once(' '))
                .unwrap_or_else(|| panic!("not a READY line: {line:?}"));
            assert_eq!(id, format!("farm-{i}"));
            format!("{id}={endpoint}")
        })
        .collect();
    let pid = serve.pid().to_string();
    let mut args = vec!["bench"];
    for s in &servers {
        args.extend(["--server", s.as_str()]);
    }
    args.extend([
        "--server-pid",
        &pid,
        "--inflight",
        "240",
        "--max-in-flight-per-server",
        "240",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
        "--connect-timeout",
        "30",
        "--json",
    ]);
    let out = mmpool().args(&args).output().expect("run mmpool bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(report["target"], "servers", "{report}");
    assert_eq!(report["servers"].as_u64(), Some(k as u64), "{report}");
    assert_eq!(report["things"].as_u64(), Some(k as u64), "{report}");
    assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
    assert_eq!(report["pool_dropped"].as_u64(), Some(0), "{report}");
    assert!(report["requests"].as_u64().unwrap_or(0) > 0, "{report}");
    assert!(
        report["requests_total"].as_u64().unwrap_or(0) >= 240,
        "{report}"
    );
    assert!(
        report["server_cpu_us_per_req"].as_f64().is_some(),
        "the serve process's CPU: {report}"
    );
    assert!(report["threads"].as_u64().unwrap_or(0) > 0, "{report}");
    serve.signal("TERM");
    let done = serve.finish();
    assert_eq!(done.code, Some(0), "{done:#?}");
}
