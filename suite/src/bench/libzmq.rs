//! A raw libzmq DEALER (the `zmq` crate, libzmq 4.3) in a plain blocking loop with prebuilt
//! frames: the floor of what a client on this machine can do against the server. External mode
//! only (see the module documentation); it does not depend on the harness's runtime, so it runs
//! once per process, on the calling thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::measure::{check_payload, Window};
use super::raw::request_header;
use super::REPLY_TIMEOUT;
use pool_measure::CpuMark;

/// A connected libzmq DEALER and its prebuilt request header.
pub(crate) struct LibzmqClient {
    // The socket must be dropped before its context (field order).
    socket: zmq::Socket,
    _ctx: zmq::Context,
    header: Vec<u8>,
    frame: zmq::Message,
}

impl LibzmqClient {
    /// A DEALER with a fresh identity and no high-water marks, connected to `endpoint`.
    pub(crate) fn connect(
        endpoint: &str,
        server_id: &str,
        invokation_timeout: Option<Duration>,
    ) -> LibzmqClient {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let identity = format!(
            "bench-libzmq-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::DEALER).expect("libzmq DEALER");
        socket.set_identity(identity.as_bytes()).expect("identity");
        socket.set_sndhwm(0).expect("sndhwm");
        socket.set_rcvhwm(0).expect("rcvhwm");
        socket.set_linger(0).expect("linger");
        let timeout_ms = i32::try_from(REPLY_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        socket.set_rcvtimeo(timeout_ms).expect("rcvtimeo");
        socket.connect(endpoint).expect("libzmq connect");
        LibzmqClient {
            socket,
            _ctx: ctx,
            header: request_header(&identity, server_id, invokation_timeout),
            frame: zmq::Message::new(),
        }
    }

    /// The 4 request frames: empty delimiter, header, `null` payload, empty preserialized.
    fn send(&self) {
        let sent = self
            .socket
            .send(&b""[..], zmq::SNDMORE)
            .and_then(|()| self.socket.send(&self.header[..], zmq::SNDMORE))
            .and_then(|()| self.socket.send(&b"null"[..], zmq::SNDMORE))
            .and_then(|()| self.socket.send(&b""[..], 0));
        sent.expect("libzmq send");
    }

    /// The next reply (4 frames: delimiter, header, payload, preserialized), payload checked.
    fn recv(&mut self) {
        for i in 0..4 {
            if let Err(e) = self.socket.recv(&mut self.frame, 0) {
                panic!("libzmq: no reply within {REPLY_TIMEOUT:?} ({e})");
            }
            if i == 2 {
                check_payload(&self.frame);
            }
            assert_eq!(self.frame.get_more(), i < 3, "libzmq reply is not 4 frames");
        }
    }
}

/// Throughput with `window` requests in flight for `secs` (one send per receive), after a
/// warm-up of two windows; what is in flight at the end is drained (not timed).
pub(crate) fn libzmq_throughput(
    client: &mut LibzmqClient,
    window: usize,
    secs: Duration,
    server_pid: Option<u32>,
) -> Window {
    for _ in 0..window {
        client.send();
    }
    for _ in 0..window {
        client.recv();
        client.send();
    }
    for _ in 0..window {
        client.recv();
    }

    let mark = CpuMark::now(server_pid);
    let start = Instant::now();
    let deadline = start + secs;
    for _ in 0..window {
        client.send();
    }
    let mut outstanding = window;
    let mut completed = 0u64;
    loop {
        client.recv();
        outstanding -= 1;
        completed += 1;
        if Instant::now() >= deadline {
            break;
        }
        client.send();
        outstanding += 1;
    }
    let result = Window::since(mark, server_pid, completed, start.elapsed());
    for _ in 0..outstanding {
        client.recv();
    }
    result
}

/// `n` sequential round trips.
pub(crate) fn libzmq_latency(client: &mut LibzmqClient, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        client.send();
        client.recv();
        samples.push(t.elapsed());
    }
    samples
}
