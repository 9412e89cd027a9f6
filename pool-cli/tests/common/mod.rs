//! Helpers shared by the `mmpool` CLI tests: running the binary (bounded, so a hang fails instead
//! of blocking the run), background processes, fake servers, polling with a deadline.
//!
//! Deadlines here only bound hangs; no test asserts how long anything took.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use pool_testkit::{ServerConfig, TestServer};
use serde_json::Value;

/// The longest any one step may take before the test calls it a hang.
pub const HANG: Duration = Duration::from_secs(60);

/// What one `mmpool` run left behind.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Stdout, as text.
    pub stdout: String,
    /// Stderr, as text.
    pub stderr: String,
}

impl Run {
    fn from_parts(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Run {
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(stdout).into_owned(),
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        }
    }

    /// The non-empty lines of stdout.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// The non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Asserts the exit code, showing everything on failure.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code; {self:#?}");
        self
    }

    /// Asserts stderr is exactly one non-empty line and returns it.
    #[track_caller]
    pub fn one_error_line(&self) -> &str {
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected one line on stderr; {self:#?}");
        lines[0]
    }

    /// Stdout parsed as one JSON value (asserts there is exactly one line).
    #[track_caller]
    pub fn json(&self) -> Value {
        let lines = self.stdout_lines();
        assert_eq!(
            lines.len(),
            1,
            "expected one JSON line on stdout; {self:#?}"
        );
        serde_json::from_str(lines[0])
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); {self:#?}"))
    }
}

/// `mmpool` from this package, with `RUST_LOG` unset (tracing would add stderr lines) and a
/// hang bound.
pub fn mmpool() -> Command {
    let mut cmd = Command::cargo_bin("mmpool").expect("the mmpool binary is built");
    cmd.env_remove("RUST_LOG").timeout(HANG);
    cmd
}

/// Runs `mmpool ARGS` to the end.
pub fn run(args: &[&str]) -> Run {
    run_with(mmpool().args(args))
}

/// Runs a prepared command to the end.
pub fn run_with(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("mmpool can be started");
    Run::from_parts(out.status, &out.stdout, &out.stderr)
}

/// The path of the `mmpool` binary (for `std::process::Command`).
pub fn mmpool_path() -> &'static str {
    env!("CARGO_BIN_EXE_mmpool")
}

/// An `mmpool` process running in the background; killed and reaped on drop.
pub struct Background {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Background {
    /// Starts `mmpool ARGS` with stdout and stderr piped and stdin closed.
    pub fn spawn(args: &[&str]) -> Background {
        Background::spawn_with_env(args, &[])
    }

    /// [`Background::spawn`] with more environment variables.
    pub fn spawn_with_env(args: &[&str], env: &[(&str, &std::path::Path)]) -> Background {
        let mut child = std::process::Command::new(mmpool_path())
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mmpool can be started");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(line) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        Background {
            child,
            lines,
            stdout_seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, or `None` once stdout is closed. Panics after [`HANG`].
    pub fn next_line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(HANG) {
            Ok(line) => {
                self.stdout_seen.push(line.clone());
                Some(line)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no stdout line within {HANG:?}"),
        }
    }

    /// The next stdout line if one comes within `bound` (`None`: none yet, or stdout closed).
    /// For polling; nothing asserts how long a line took.
    pub fn next_line_within(&mut self, bound: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(bound).ok()?;
        self.stdout_seen.push(line.clone());
        Some(line)
    }

    /// Sends a signal with `kill -SIG PID`.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill can be run");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Waits (at most [`HANG`], then kills it and panics) for the process to exit, and returns
    /// everything it printed (stdout lines already read with [`Background::next_line`]
    /// included).
    pub fn finish(&mut self) -> Run {
        let status = wait_bounded(&mut self.child);
        let mut stdout = self.stdout_seen.join("\n");
        // The reader thread ends at EOF, which comes with the exit.
        while let Ok(line) = self.lines.recv_timeout(HANG) {
            if !stdout.is_empty() {
                stdout.push('\n');
            }
            stdout.push_str(&line);
        }
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Run::from_parts(status, stdout.as_bytes(), &stderr)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child`; kills it and panics after [`HANG`].
pub fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + HANG;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait works") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {HANG:?} (a hang is a bug)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `condition` until it holds; panics after [`HANG`] naming `what`.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `condition` for at most `bound`; whether it came to hold.
pub fn wait_until_within(bound: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fake hololinked server `id` on `tcp://127.0.0.1:<any port>` serving `things` (none: one
/// Thing named `id`).
pub fn tcp_server(id: &str, things: &[&str]) -> TestServer {
    let config = ServerConfig::builder(id)
        .things(things.iter().copied())
        .tcp()
        .build();
    TestServer::start(config).expect("the test server starts")
}

/// The `--server ID=ENDPOINT` value of a tcp test server.
pub fn server_arg(server: &TestServer) -> String {
    format!(
        "{}={}",
        server.server_id(),
        server.tcp_endpoint().expect("the server listens on tcp")
    )
}

/// A tcp endpoint nothing listens on (a port that was bound, then closed).
pub fn closed_tcp_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("tcp://127.0.0.1:{port}")
}

/// Starts `mmpool serve ARGS` and reads its `READY <endpoint>` lines, one per `--bind`
/// (the real ports, also for port 0).
pub fn serve(args: &[&str]) -> (Background, Vec<String>) {
    let binds = args.iter().filter(|a| **a == "--bind").count();
    let mut serve = Background::spawn(&[&["serve"], args].concat());
    let endpoints = ready_endpoints(&mut serve, binds);
    (serve, endpoints)
}

/// Reads `n` `READY <endpoint>` lines from a starting `mmpool serve`.
#[allow(dead_code)] // not every test binary that includes this module reads them itself
pub fn ready_endpoints(serve: &mut Background, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let line = serve
                .next_line()
                .expect("mmpool serve printed a READY line before closing stdout");
            line.strip_prefix("READY ")
                .unwrap_or_else(|| panic!("not a READY line: {line:?}"))
                .to_owned()
        })
        .collect()
}
