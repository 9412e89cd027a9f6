//! The server, in a child process (this binary re-executed with `MMPOOL_BENCH_ROLE=server`) so
//! that the CPU time read from `/proc/self/stat` is the client's alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use pool_testkit::{ServerConfig, TestServer};

use super::config::{Transport, ROLE_VAR, SERVER_VAR};
use super::SERVER_ID;

/// Child role: runs the server chosen by `MMPOOL_BENCH_SERVER` until stdin closes.
pub(crate) fn serve() {
    if std::env::var(SERVER_VAR).as_deref() == Ok("fast") {
        serve_fast();
    } else {
        serve_testkit();
    }
}

/// Tells the parent where to connect: one `READY <tcp> <ipc>` line on stdout.
fn announce(tcp: &str, ipc: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY {tcp} {ipc}").expect("write READY");
    out.flush().expect("flush READY");
}

/// Blocks until the parent closes our stdin (or dies).
fn wait_for_parent() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// A minimal hololinked-shaped echo server (one libzmq ROUTER per transport, no JSON parsing,
/// no Thing): it answers every request with a REPLY carrying the request's `messageID` and the
/// payload `1.5`. With it the server is not the bottleneck, so the client's own cost shows.
fn serve_fast() {
    let ctx = zmq::Context::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let ipc = format!("ipc://{}/fast.ipc", dir.path().display());
    let mut endpoints = Vec::new();
    for bind in ["tcp://127.0.0.1:0".to_owned(), ipc] {
        let router = fast_router(&ctx, &bind);
        endpoints.push(
            router
                .get_last_endpoint()
                .expect("endpoint")
                .expect("utf-8 endpoint"),
        );
        // The echo threads block in recv forever; the process exits under them.
        std::thread::spawn(move || fast_echo(&router));
    }
    announce(&endpoints[0], &endpoints[1]);
    wait_for_parent();
    drop(dir);
    std::process::exit(0);
}

/// A ROUTER bound at `bind` with unlimited queues (see "send high-water mark" in the module
/// documentation).
fn fast_router(ctx: &zmq::Context, bind: &str) -> zmq::Socket {
    let router = ctx.socket(zmq::ROUTER).expect("router");
    router.set_identity(SERVER_ID.as_bytes()).expect("identity");
    router.set_sndhwm(0).expect("sndhwm");
    router.set_rcvhwm(0).expect("rcvhwm");
    router.set_linger(0).expect("linger");
    router.bind(bind).expect("bind");
    router
}

fn fast_echo(router: &zmq::Socket) {
    loop {
        let Ok(frames) = router.recv_multipart(0) else {
            return;
        };
        let [identity, _, header, ..] = frames.as_slice() else {
            continue;
        };
        let Some((kind, reply)) = fast_reply(header) else {
            continue;
        };
        let payload: &[u8] = if kind == "REPLY" { b"1.5" } else { b"null" };
        let parts: [&[u8]; 5] = [identity, b"", reply.as_bytes(), payload, b""];
        if router.send_multipart(parts, 0).is_err() {
            return;
        }
    }
}

/// The reply header for a request header (found by bytes, not parsed: this server must cost
/// less than any client), and its message type.
fn fast_reply(header: &[u8]) -> Option<(&'static str, String)> {
    const KEY: &[u8] = b"\"messageID\":\"";
    let at = header.windows(KEY.len()).position(|w| w == KEY)?;
    let id = header.get(at + KEY.len()..at + KEY.len() + 36)?;
    let id = String::from_utf8_lossy(id);
    let kind = if header.windows(11).any(|w| w == b"\"HANDSHAKE\"") {
        "HANDSHAKE"
    } else {
        "REPLY"
    };
    let reply = format!(
        "{{\"messageType\":\"{kind}\",\"messageID\":\"{id}\",\"receiverID\":\"\",\"senderID\":\"{SERVER_ID}\",\"payloadContentType\":\"application/json\",\"preencodedPayloadContentType\":\"text/plain\"}}"
    );
    Some((kind, reply))
}

/// Child role: a testkit server on tcp and ipc until stdin closes.
fn serve_testkit() {
    let server = TestServer::start(
        ServerConfig::builder(SERVER_ID)
            .tcp()
            .ipc()
            .send_hwm(0)
            .build(),
    )
    .expect("start the test server");
    announce(
        server.tcp_endpoint().expect("tcp endpoint"),
        server.ipc_endpoint().expect("ipc endpoint"),
    );
    wait_for_parent();
    let stats = server.stats();
    eprintln!(
        "roundtrip server: received {} (by type {:?}), replied {} (by type {:?}), dropped {}",
        stats.received, stats.received_by_type, stats.replied, stats.replied_by_type, stats.dropped
    );
    drop(server);
}

/// The server child; closing its stdin stops it, and it is killed if it does not stop.
pub(crate) struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    // Kept open so that a late write by the child does not fail on a closed pipe.
    stdout: BufReader<ChildStdout>,
    tcp: String,
    ipc: String,
}

impl ServerProcess {
    /// Starts this binary in the server role and waits for its endpoints.
    pub(crate) fn spawn() -> ServerProcess {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .env(ROLE_VAR, "server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the server process");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut process = ServerProcess {
            child,
            stdin,
            stdout,
            tcp: String::new(),
            ipc: String::new(),
        };
        // `process` is dropped (the child stopped) if reading READY panics.
        let mut line = String::new();
        process
            .stdout
            .read_line(&mut line)
            .expect("read the server's READY line");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("READY"), "server said {line:?}");
        process.tcp = words.next().expect("tcp endpoint").to_owned();
        process.ipc = words.next().expect("ipc endpoint").to_owned();
        process
    }

    pub(crate) fn endpoint(&self, transport: Transport) -> &str {
        match transport {
            Transport::Tcp => &self.tcp,
            Transport::Ipc => &self.ipc,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
