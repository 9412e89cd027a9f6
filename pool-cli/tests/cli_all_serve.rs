//! `mmpool all` (fan-out to every Thing) against fake hololinked servers, and `mmpool serve` (a
//! fake server as a process) driven by `mmpool call`.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use common::{
    closed_tcp_endpoint, ready_endpoints, run, run_with, server_arg, tcp_server, Background,
};
use serde_json::{json, Value};

/// `{thing: {"error": {...}}}`'s kind and message.
#[track_caller]
fn error_of(object: &Value, thing: &str) -> (String, String) {
    let error = &object[thing]["error"];
    assert!(error.is_object(), "{thing} has no error: {object}");
    (
        error["kind"].as_str().unwrap().to_owned(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

// ---- mmpool all ----------------------------------------------------------------------------

#[test]
fn all_fans_out_to_every_thing_of_every_server() {
    let alpha = tcp_server("alpha", &["alpha", "extra"]);
    let beta = tcp_server("beta", &[]);
    let (a, b) = (server_arg(&alpha), server_arg(&beta));
    let base = [
        "all",
        "--server",
        &a,
        "--server",
        &b,
        "--thing",
        "extra=alpha",
    ];

    let r = run(&[&base[..], &["readproperty", "number"]].concat());
    r.expect_code(0);
    assert_eq!(
        r.json(),
        json!({"alpha": {"ok": 1.5}, "extra": {"ok": 1.5}, "beta": {"ok": 1.5}})
    );

    let r = run(&[&base[..], &["writeproperty", "text", "\"all\""]].concat());
    r.expect_code(0);
    assert_eq!(
        r.json(),
        json!({"alpha": {"ok": null}, "extra": {"ok": null}, "beta": {"ok": null}})
    );
    let r = run(&[&base[..], &["invokeaction", "add", r#"{"a": 40, "b": 2}"#]].concat());
    r.expect_code(0);
    assert_eq!(
        r.json(),
        json!({"alpha": {"ok": 42}, "extra": {"ok": 42}, "beta": {"ok": 42}})
    );
    let r = run(&[&base[..], &["readproperty", "text"]].concat());
    r.expect_code(0);
    assert_eq!(
        r.json(),
        json!({"alpha": {"ok": "all"}, "extra": {"ok": "all"}, "beta": {"ok": "all"}})
    );
    // Every Thing was asked once per run, on its own server.
    assert_eq!(alpha.stats().operations_of("invokeaction"), 2);
    assert_eq!(beta.stats().operations_of("invokeaction"), 1);
}

#[test]
fn all_reports_a_remote_exception_per_thing() {
    let alpha = tcp_server("alpha", &["alpha", "extra"]);
    let beta = tcp_server("beta", &[]);
    let r = run(&[
        "all",
        "--server",
        &server_arg(&alpha),
        "--server",
        &server_arg(&beta),
        "--thing",
        "extra=alpha",
        "invokeaction",
        "fail",
        r#"{"message":"boom"}"#,
    ]);
    r.expect_code(3);
    let object = r.json();
    assert_eq!(object.as_object().unwrap().len(), 3, "{object}");
    for thing in ["alpha", "extra", "beta"] {
        assert_eq!(
            error_of(&object, thing),
            ("remote_exception".to_owned(), "ValueError: boom".to_owned())
        );
    }
}

#[test]
fn all_with_one_server_unreachable_reports_it_and_answers_the_others() {
    let alpha = tcp_server("alpha", &["alpha", "extra"]);
    let gone = format!("gone={}", closed_tcp_endpoint());
    let r = run(&[
        "all",
        "--server",
        &server_arg(&alpha),
        "--server",
        &gone,
        "--thing",
        "extra=alpha",
        "--timeout",
        "3",
        "readproperty",
        "number",
    ]);
    r.expect_code(6);
    let object = r.json();
    assert_eq!(object["alpha"], json!({"ok": 1.5}), "{object}");
    assert_eq!(object["extra"], json!({"ok": 1.5}), "{object}");
    let (kind, message) = error_of(&object, "gone");
    assert_eq!(kind, "unreachable", "{object}");
    assert!(!message.is_empty());
}

#[test]
fn all_reports_an_unknown_thing_as_invalid_message() {
    // The server serves `a` and `b` only; the CLI also asks the server's own id, which it does
    // not serve.
    let server = tcp_server("srv", &["a", "b"]);
    let r = run(&[
        "all",
        "--server",
        &server_arg(&server),
        "--thing",
        "a=srv",
        "--thing",
        "b=srv",
        "readproperty",
        "number",
    ]);
    r.expect_code(7);
    let object = r.json();
    assert_eq!(object["a"], json!({"ok": 1.5}), "{object}");
    assert_eq!(object["b"], json!({"ok": 1.5}), "{object}");
    assert_eq!(error_of(&object, "srv").0, "invalid_message");
}

#[test]
fn all_server_timeout_exits_4() {
    let server = tcp_server("srv", &["a", "b"]);
    let r = run(&[
        "all",
        "--server",
        &server_arg(&server),
        "--thing",
        "a=srv",
        "--thing",
        "b=srv",
        "--execution-timeout",
        "0.2",
        "invokeaction",
        "sleep_for",
        r#"{"seconds": 60}"#,
    ]);
    // `srv` itself is not served (exit 7 for it); the first failing Thing by id, `a`, decides.
    r.expect_code(4);
    let object = r.json();
    assert_eq!(error_of(&object, "a").0, "server_timeout");
    assert!(error_of(&object, "b").1.contains("execution"), "{object}");
}

#[test]
fn all_usage_errors_exit_2() {
    let good = format!("a={}", closed_tcp_endpoint());
    for args in [
        vec!["all", "readproperty", "number"],
        vec!["all", "--server", &good, "readproperty"],
        vec!["all", "--server", &good, "writeproperty", "number", "{nope"],
        vec!["all", "--server", "a=foo://x", "readproperty", "number"],
        vec![
            "all",
            "--server",
            &good,
            "--thing",
            "x=nosuch",
            "readproperty",
            "number",
        ],
        vec![
            "all",
            "--server",
            &good,
            "--timeout",
            "x",
            "readproperty",
            "number",
        ],
    ] {
        let r = run(&args);
        r.expect_code(2);
        assert!(r.stderr.starts_with("error:"), "{args:?}: {r:#?}");
        assert_eq!(r.stdout, "", "{args:?}");
    }
}

/// BUG (as in `mmpool call`): a negative-number payload is taken for an option.
#[test]
fn all_takes_a_negative_number_payload_as_json() {
    let server = tcp_server("srv", &[]);
    let r = run(&[
        "all",
        "--server",
        &server_arg(&server),
        "writeproperty",
        "number",
        "-1",
    ]);
    r.expect_code(0);
    assert_eq!(r.json(), json!({"srv": {"ok": null}}));
}

// ---- mmpool serve --------------------------------------------------------------------------

#[test]
fn serve_answers_calls_over_tcp_and_ipc_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ipc_path = dir.path().join("serve.ipc");
    let ipc = format!("ipc://{}", ipc_path.display());
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--bind",
        &ipc,
        "--id",
        "served",
        "--things",
        "a,b",
        "--send-hwm",
        "0",
    ]);
    let endpoints = ready_endpoints(&mut serve, 2);
    let tcp = &endpoints[0];
    assert!(tcp.starts_with("tcp://127.0.0.1:"), "{endpoints:?}");
    assert!(!tcp.ends_with(":0"), "the real port is announced: {tcp}");
    assert_eq!(endpoints[1], ipc);

    for endpoint in &endpoints {
        let s = format!("served={endpoint}");
        let r = run(&["call", "--server", &s, "a", "readproperty", "number"]);
        r.expect_code(0);
        assert_eq!(r.json(), json!(1.5));
        let r = run(&[
            "call",
            "--server",
            &s,
            "b",
            "invokeaction",
            "add",
            r#"{"a":1,"b":2}"#,
        ]);
        r.expect_code(0);
        assert_eq!(r.json(), json!(3));
    }
    // State is per Thing and shared by both endpoints.
    let tcp_arg = format!("served={tcp}");
    let ipc_arg = format!("served={ipc}");
    run(&[
        "call",
        "--server",
        &tcp_arg,
        "a",
        "writeproperty",
        "number",
        "8",
    ])
    .expect_code(0);
    let r = run(&["call", "--server", &ipc_arg, "a", "readproperty", "number"]);
    assert_eq!(r.json(), json!(8));
    let r = run(&["call", "--server", &ipc_arg, "b", "readproperty", "number"]);
    assert_eq!(r.json(), json!(1.5));
    // With --things, the id itself is not a Thing.
    run(&[
        "call",
        "--server",
        &tcp_arg,
        "served",
        "readproperty",
        "number",
    ])
    .expect_code(7);
    let r = run(&[
        "all",
        "--server",
        &tcp_arg,
        "--thing",
        "a=served",
        "--thing",
        "b=served",
        "readproperty",
        "number",
    ]);
    assert_eq!(r.json()["b"], json!({"ok": 1.5}));

    serve.signal("TERM");
    let r = serve.finish();
    r.expect_code(0);
    assert!(!ipc_path.exists(), "the ipc socket file is removed on exit");
    // And it is gone: nothing answers any more.
    run(&[
        "call",
        "--server",
        &tcp_arg,
        "--timeout",
        "1",
        "a",
        "readproperty",
        "number",
    ])
    .expect_code(6);
}

#[test]
fn serve_with_default_thing_stops_on_sigint() {
    let mut serve = Background::spawn(&["serve", "--bind", "tcp://127.0.0.1:0", "--id", "solo"]);
    let endpoint = ready_endpoints(&mut serve, 1).remove(0);
    let s = format!("solo={endpoint}");
    let r = run(&["call", "--server", &s, "solo", "readproperty", "text"]);
    r.expect_code(0);
    assert_eq!(r.json(), json!("hello"));
    let r = run(&[
        "call",
        "--server",
        &s,
        "solo",
        "invokeaction",
        "fail",
        r#"{"message":"boom"}"#,
    ]);
    r.expect_code(3);
    assert_eq!(r.one_error_line(), "ValueError: boom");
    serve.signal("INT");
    serve.finish().expect_code(0);
}

/// What `serve_stops_cleanly_on_sigterm_sent_right_after_ready` runs: a supervisor that starts
/// `mmpool serve`, waits for READY and stops it at once (shell builtins, so no delay between
/// the two), `$3` times; prints one line per unclean stop, then `bad=N`. A server still running
/// 10 s after its SIGTERM is killed (that bound only ends a hang) and counted. Its stderr goes
/// to a file, so no stray process can keep the test's pipes open.
const READY_THEN_SIGTERM: &str = r#"
mmpool="$1"; dir="$2"; n="$3"; i=0; bad=0
while [ "$i" -lt "$n" ]; do
  i=$((i + 1))
  rm -f "$dir/out"; mkfifo "$dir/out"
  "$mmpool" serve --bind "ipc://$dir/q$i.ipc" --id quick > "$dir/out" 2> "$dir/err" &
  pid=$!
  read -r line < "$dir/out"
  kill -TERM "$pid"
  waited=0
  while kill -0 "$pid" 2> /dev/null && [ "$waited" -lt 100 ]; do
    sleep 0.1; waited=$((waited + 1))
  done
  hung=no
  if kill -0 "$pid" 2> /dev/null; then hung=yes; kill -KILL "$pid"; fi
  wait "$pid"
  rc=$?
  left=no; [ -e "$dir/q$i.ipc" ] && left=yes
  if [ "$rc" -ne 0 ] || [ "$left" = yes ]; then
    bad=$((bad + 1))
    echo "run $i: '$line' then SIGTERM: exit $rc, ignored SIGTERM: $hung, ipc file left: $left"
  fi
done
echo "bad=$bad"
"#;

/// BUG: `mmpool serve` prints READY before it installs its SIGTERM/SIGINT handlers (they are
/// registered only when `tokio::select!` first polls them), so a supervisor that stops the
/// server right after READY often kills it with the default action: exit by signal (143) and
/// the ipc socket file left behind, instead of a clean exit 0; and when the SIGTERM lands while
/// tokio is registering the handler, it is caught but lost, and the server never exits. The
/// window is small, so the
/// supervisor does it 30 times (shell builtins, no delay); each run must stop cleanly.
#[test]
fn serve_stops_cleanly_on_sigterm_sent_right_after_ready() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_with(
        assert_cmd::Command::new("sh")
            .timeout(common::HANG)
            .arg("-c")
            .arg(READY_THEN_SIGTERM)
            .arg("sh")
            .arg(common::mmpool_path())
            .arg(dir.path())
            .arg("30"),
    );
    r.expect_code(0);
    assert_eq!(r.stdout_lines().last(), Some(&"bad=0"), "{r:#?}");
}

#[test]
fn serve_bad_bind_is_one_line_and_exit_2() {
    // A port that stays taken while mmpool tries to bind it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let dir = tempfile::tempdir().unwrap();
    let no_dir = format!("ipc://{}", dir.path().join("no/such/dir/x.ipc").display());
    for bind in ["foo://x", "ipc://", "tcp://256.1.1.1:5555", &no_dir, &taken] {
        let r = run(&["serve", "--bind", bind, "--id", "bad"]);
        r.expect_code(2);
        assert!(r.one_error_line().starts_with("error:"), "{bind}: {r:#?}");
        assert_eq!(r.stdout, "", "{bind}: no READY line");
    }
    drop(listener);
    // A bad id, duplicate Things.
    for args in [
        vec!["serve", "--bind", "tcp://127.0.0.1:0", "--id", ""],
        vec![
            "serve",
            "--bind",
            "tcp://127.0.0.1:0",
            "--id",
            "x",
            "--things",
            "a,a",
        ],
    ] {
        let r = run(&args);
        r.expect_code(2);
        assert!(r.one_error_line().starts_with("error:"), "{args:?}: {r:#?}");
        assert_eq!(r.stdout, "", "{args:?}");
    }
}

#[test]
fn serve_needs_bind_and_id() {
    for args in [
        vec!["serve"],
        vec!["serve", "--id", "x"],
        vec!["serve", "--bind", "tcp://127.0.0.1:0"],
        vec![
            "serve",
            "--bind",
            "tcp://127.0.0.1:0",
            "--id",
            "x",
            "--send-hwm",
            "many",
        ],
    ] {
        let r = run(&args);
        r.expect_code(2);
        assert!(r.stderr.starts_with("error:"), "{args:?}: {r:#?}");
    }
}

// ---- mmpool serve --servers K --------------------------------------------------------------

/// Reads `n` `READY <endpoint> <id>` lines from a starting `mmpool serve --servers K`.
fn ready_servers(serve: &mut Background, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let line = serve
                .next_line()
                .expect("mmpool serve printed a READY line before closing stdout");
            let mut words = line.split(' ');
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("READY"), Some(endpoint), Some(id), None) => {
                    (id.to_owned(), endpoint.to_owned())
                }
                _ => panic!("not a `READY <endpoint> <id>` line: {line:?}"),
            }
        })
        .collect()
}

#[test]
fn serve_many_servers_prints_id_and_endpoint_and_each_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    let ipc = format!("ipc://{}", dir.path().join("farm.ipc").display());
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--bind",
        &ipc,
        "--id",
        "farm",
        "--servers",
        "4",
        "--send-hwm",
        "0",
    ]);
    let ready = ready_servers(&mut serve, 8);
    let mut tcp_endpoints = Vec::new();
    for i in 0..4 {
        let id = format!("farm-{i}");
        let (tcp, ipc) = (&ready[2 * i], &ready[2 * i + 1]);
        assert_eq!((&tcp.0, &ipc.0), (&id, &id), "{ready:?}");
        assert!(
            tcp.1.starts_with("tcp://127.0.0.1:") && !tcp.1.ends_with(":0"),
            "{ready:?}"
        );
        let ipc_path = dir.path().join(format!("farm-{i}.ipc"));
        assert_eq!(ipc.1, format!("ipc://{}", ipc_path.display()));
        assert!(ipc_path.exists());
        tcp_endpoints.push(tcp.1.clone());
        for (_, endpoint) in [tcp, ipc] {
            let s = format!("{id}={endpoint}");
            let r = run(&["call", "--server", &s, &id, "readproperty", "number"]);
            r.expect_code(0);
            assert_eq!(r.json(), json!(1.5));
        }
    }
    tcp_endpoints.sort_unstable();
    tcp_endpoints.dedup();
    assert_eq!(tcp_endpoints.len(), 4, "one port per server");
    // Each server has its own state, shared by its endpoints.
    let (s0, s1) = (
        format!("farm-0={}", ready[0].1),
        format!("farm-1={}", ready[3].1),
    );
    run(&[
        "call",
        "--server",
        &s0,
        "farm-0",
        "writeproperty",
        "number",
        "8",
    ])
    .expect_code(0);
    let s0_ipc = format!("farm-0={}", ready[1].1);
    let r = run(&[
        "call",
        "--server",
        &s0_ipc,
        "farm-0",
        "readproperty",
        "number",
    ]);
    assert_eq!(r.json(), json!(8));
    let r = run(&["call", "--server", &s1, "farm-1", "readproperty", "number"]);
    assert_eq!(r.json(), json!(1.5));
    // Another server's Thing is unknown.
    run(&["call", "--server", &s1, "farm-0", "readproperty", "number"]).expect_code(7);
    // And all of them at once.
    let servers: Vec<String> = (0..4)
        .map(|i| format!("farm-{i}={}", ready[2 * i].1))
        .collect();
    let mut args = vec!["all"];
    for s in &servers {
        args.extend(["--server", s.as_str()]);
    }
    args.extend(["readproperty", "number"]);
    let r = run(&args);
    r.expect_code(0);
    assert_eq!(
        r.json(),
        json!({"farm-0": {"ok": 8}, "farm-1": {"ok": 1.5}, "farm-2": {"ok": 1.5}, "farm-3": {"ok": 1.5}})
    );

    serve.signal("TERM");
    serve.finish().expect_code(0);
    for i in 0..4 {
        let path = dir.path().join(format!("farm-{i}.ipc"));
        assert!(!path.exists(), "the ipc socket files are removed on exit");
    }
}

#[test]
fn serve_many_servers_suffix_their_things() {
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--id",
        "farm",
        "--things",
        "a,b",
        "--servers",
        "2",
        "--io-threads",
        "2",
    ]);
    let ready = ready_servers(&mut serve, 2);
    assert_eq!(ready[1].0, "farm-1");
    let s = format!("farm-1={}", ready[1].1);
    let r = run(&[
        "call",
        "--server",
        &s,
        "--thing",
        "b-1=farm-1",
        "b-1",
        "invokeaction",
        "add",
        r#"{"a":1,"b":2}"#,
    ]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(3));
    // Neither the unsuffixed Thing nor the server's own id is served.
    run(&[
        "call",
        "--server",
        &s,
        "--thing",
        "b=farm-1",
        "b",
        "readproperty",
        "number",
    ])
    .expect_code(7);
    run(&["call", "--server", &s, "farm-1", "readproperty", "number"]).expect_code(7);
    serve.signal("INT");
    serve.finish().expect_code(0);
}

#[test]
fn serve_many_servers_bad_arguments_are_one_line_and_exit_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let base = ["serve", "--id", "farm", "--bind"];
    for args in [
        vec!["tcp://127.0.0.1:0", "--servers", "0"],
        vec!["tcp://127.0.0.1:0", "--servers", "1001"],
        vec!["tcp://127.0.0.1:0", "--servers", "many"],
        vec!["tcp://127.0.0.1:0", "--io-threads", "2"],
        vec!["tcp://127.0.0.1:0", "--servers", "2", "--io-threads", "0"],
        vec!["tcp://127.0.0.1:65535", "--servers", "2"],
        vec!["tcp://127.0.0.1:x", "--servers", "2"],
        vec!["foo://x", "--servers", "2"],
        vec![&taken, "--servers", "3"],
    ] {
        let r = run(&[&base[..], &args[..]].concat());
        r.expect_code(2);
        assert!(r.one_error_line().starts_with("error:"), "{args:?}: {r:#?}");
        assert_eq!(r.stdout, "", "{args:?}: no READY line");
    }
    drop(listener);
}

/// `--bind ipc` serves at hololinked's default ipc path of the id under HOME, where
/// `--server ID=ipc` looks; with many servers, each at its own id's path.
#[test]
fn serve_bind_ipc_is_hololinkeds_default_path() {
    let home = tempfile::tempdir().unwrap();
    let sockets = home.path().join(".hololinked").join("sockets");
    let mut serve = Background::spawn_with_env(
        &["serve", "--bind", "ipc", "--id", "homed"],
        &[("HOME", home.path())],
    );
    let endpoints = ready_endpoints(&mut serve, 1);
    assert_eq!(
        endpoints[0],
        format!("ipc://{}", sockets.join("homed.ipc").display())
    );
    let r = run_with(
        common::mmpool()
            .args([
                "call",
                "--server",
                "homed=ipc",
                "homed",
                "readproperty",
                "number",
            ])
            .env("HOME", home.path()),
    );
    r.expect_code(0);
    assert_eq!(r.json(), json!(1.5));
    serve.signal("TERM");
    serve.finish().expect_code(0);

    let mut serve = Background::spawn_with_env(
        &["serve", "--bind", "ipc", "--id", "farm", "--servers", "2"],
        &[("HOME", home.path())],
    );
    let ready = ready_servers(&mut serve, 2);
    for (i, (id, endpoint)) in ready.iter().enumerate() {
        assert_eq!(id, &format!("farm-{i}"));
        let path = sockets.join(format!("farm-{i}.ipc"));
        assert_eq!(endpoint, &format!("ipc://{}", path.display()));
        let s = format!("{id}=ipc");
        let r = run_with(
            common::mmpool()
                .args(["call", "--server", &s, id, "readproperty", "number"])
                .env("HOME", home.path()),
        );
        r.expect_code(0);
    }
    serve.signal("TERM");
    serve.finish().expect_code(0);
}
