//! What the pool logs through `tracing`: connection trouble at `warn` (once per cause, repeats
//! at `debug`), recovery at `info`, and every request inside a span naming its Thing, server
//! and message id.
//!
//! Each test installs its own capturing subscriber for its thread only
//! (`tracing::subscriber::set_default`) and runs the pool on a current-thread runtime on that
//! same thread, so every task of the pool logs into that test's buffer and nothing else does.
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pool_testkit::{EventStream, ServerConfig, TestServer};
use pool_tokio::{Pool, Request};
use tracing_subscriber::fmt::MakeWriter;

/// Everything the subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines that contain every one of `parts`.
    fn lines_with(&self, parts: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| parts.iter().all(|p| line.contains(p)))
            .map(str::to_owned)
            .collect()
    }

    /// Waits until `done` holds of the log (a bound only against a hang, never a measurement).
    async fn wait_for(&self, what: &str, done: impl Fn(&Logs) -> bool) {
        let waited = tokio::time::timeout(Duration::from_secs(20), async {
            while !done(self) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "never logged {what}:\n{}", self.text());
    }
}

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// Runs `test` on a current-thread runtime with a subscriber that writes every event of the
/// driver, down to `debug`, with its spans' fields, into the returned buffer.
fn with_logs<F: std::future::Future<Output = ()>>(test: impl FnOnce(Logs) -> F) {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(test(logs));
}

#[test]
fn an_unreachable_server_warns_once_with_its_endpoint_and_cause_then_logs_repeats_at_debug() {
    with_logs(|logs| async move {
        let endpoint = "tcp://127.0.0.1:1";
        let pool = Pool::builder()
            .server("nowhere", endpoint)
            .connect_timeout(Duration::from_millis(100))
            .reconnect_backoff(Duration::from_millis(5), Duration::from_millis(10))
            .build()
            .unwrap();
        logs.wait_for("three repeats", |logs| {
            logs.lines_with(&["DEBUG", "server still unreachable", endpoint])
                .len()
                >= 3
        })
        .await;
        let warned = logs.lines_with(&["WARN", "server unreachable", endpoint]);
        assert_eq!(warned.len(), 1, "one warning per cause:\n{}", logs.text());
        let cause = pool.server_info("nowhere").unwrap().last_error.unwrap();
        assert!(cause.starts_with("connect failed"), "{cause}");
        assert!(warned[0].contains(&cause), "the cause: {}", warned[0]);
        pool.shutdown().await;
    });
}

#[test]
fn a_server_lost_after_ready_warns_and_logs_info_when_ready_again() {
    with_logs(|logs| async move {
        let mut server = TestServer::start(ServerConfig::builder("srv").tcp().build()).unwrap();
        let endpoint = server.tcp_endpoint().unwrap().to_owned();
        let pool = Pool::builder()
            .server("srv", endpoint.as_str())
            .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .build()
            .unwrap();
        pool.ready(Duration::from_secs(10)).await.unwrap();
        let ready = logs.lines_with(&[" INFO ", "server ready", &endpoint]);
        assert_eq!(ready.len(), 1, "{}", logs.text());

        server.kill();
        logs.wait_for("the loss", |logs| {
            !logs
                .lines_with(&["WARN", "server lost", &endpoint])
                .is_empty()
        })
        .await;
        let lost = logs.lines_with(&["WARN", "server lost", &endpoint]);
        assert_eq!(lost.len(), 1, "{}", logs.text());
        assert!(lost[0].contains("cause="), "the cause: {}", lost[0]);

        server.restart().unwrap();
        pool.ready(Duration::from_secs(10)).await.unwrap();
        let again = logs.lines_with(&[" INFO ", "server ready again", &endpoint]);
        assert_eq!(again.len(), 1, "{}", logs.text());
        assert!(again[0].contains("failed_attempts="), "{}", again[0]);
        pool.shutdown().await;
    });
}

#[test]
fn an_event_publisher_lost_warns_and_logs_info_when_connected_again() {
    with_logs(|logs| async move {
        let config = ServerConfig::builder("srv")
            .tcp()
            .event_stream(EventStream::new("srv", "tick").rate(200.0))
            .build();
        let mut server = TestServer::start(config).unwrap();
        let endpoint = server.tcp_endpoint().unwrap().to_owned();
        let publisher = server.event_endpoints()[0].clone();
        let pool = Pool::builder()
            .server("srv", endpoint.as_str())
            .publisher("srv", publisher.as_str())
            .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .build()
            .unwrap();
        let _ticks = pool.subscribe_event("srv", "tick").unwrap();
        logs.wait_for("the connection", |logs| {
            !logs
                .lines_with(&["DEBUG", "event publisher connected", &publisher])
                .is_empty()
        })
        .await;

        server.kill();
        logs.wait_for("the loss", |logs| {
            !logs
                .lines_with(&["WARN", "event publisher lost", &publisher])
                .is_empty()
        })
        .await;

        server.restart().unwrap();
        logs.wait_for("the recovery", |logs| {
            !logs
                .lines_with(&[" INFO ", "event publisher connected again", &publisher])
                .is_empty()
        })
        .await;
        let lost = logs.lines_with(&["WARN", "event publisher lost", &publisher]);
        assert_eq!(lost.len(), 1, "{}", logs.text());
        assert!(lost[0].contains("cause="), "the cause: {}", lost[0]);
        pool.shutdown().await;
    });
}

#[test]
fn a_request_logs_inside_a_span_naming_its_thing_server_and_message_id() {
    with_logs(|logs| async move {
        let server =
            TestServer::start(ServerConfig::builder("srv").thing("camera").tcp().build()).unwrap();
        let pool = Pool::builder()
            .server_with_things("srv", server.tcp_endpoint().unwrap(), &["camera"])
            .build()
            .unwrap();
        let pending = pool
            .request(Request::read_property("camera", "number"))
            .unwrap();
        let message_id = pending.message_id().unwrap().to_owned();
        pending.await.unwrap();
        let done = logs.lines_with(&["request done", &message_id]);
        assert_eq!(done.len(), 1, "{}", logs.text());
        let line = &done[0];
        let span = line
            .split_once("request{")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(fields, _)| fields)
            .unwrap_or_else(|| panic!("inside the request span: {line}"));
        assert!(span.contains("thing=camera"), "{span}");
        assert!(span.contains("server=srv"), "{span}");
        assert!(
            span.contains(&format!("message_id=\"{message_id}\"")),
            "{span}"
        );
        pool.shutdown().await;
    });
}
