//! The baseline: a raw zeromq DEALER sending prebuilt frames, on the harness's runtime (the
//! zeromq crate's API is the same whichever runtime feature the adapter turned on).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{select, Either};
use futures::pin_mut;
use pool_driver::pool_core::wire::{
    encode_request, KeyStyle, RequestFields, RequestHeader, RequestKind,
};
use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use super::measure::{check_payload, Window};
use super::{PROPERTY, REPLY_TIMEOUT};
use crate::{sleep, Harness};
use pool_measure::CpuMark;

/// Where the raw client connects and what it sends.
#[derive(Clone, Debug)]
pub(crate) struct RawTarget {
    pub(crate) endpoint: String,
    /// The server's id (its ROUTER identity), which is also the Thing asked.
    pub(crate) server_id: &'static str,
    pub(crate) invokation_timeout: Option<Duration>,
}

/// A connected DEALER and its prebuilt request.
pub(crate) struct RawClient {
    socket: DealerSocket,
    request: ZmqMessage,
}

/// The header of a `readproperty <server>.number` request from `identity`.
pub(crate) fn request_header(
    identity: &str,
    server_id: &str,
    invokation_timeout: Option<Duration>,
) -> Vec<u8> {
    let mut fields = RequestFields::new(server_id, "readproperty", PROPERTY);
    fields.server_context.invokation_timeout = invokation_timeout.map(Into::into);
    let header = RequestHeader {
        kind: RequestKind::Operation,
        message_id: "5f0c6e1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
        sender_id: identity,
        receiver_id: server_id,
        key_style: KeyStyle::Both,
        fields,
    };
    let mut buf = vec![0u8; 4096];
    let len = encode_request(&header, &mut buf).expect("encode the request header");
    buf.truncate(len);
    buf
}

/// The 4 frames of a `readproperty <server>.number` request from `identity`, built once.
fn raw_request(
    identity: &str,
    server_id: &str,
    invokation_timeout: Option<Duration>,
) -> ZmqMessage {
    ZmqMessage::try_from(vec![
        Bytes::new(),
        Bytes::from(request_header(identity, server_id, invokation_timeout)),
        Bytes::from_static(b"null"),
        Bytes::new(),
    ])
    .expect("4 frames")
}

impl RawClient {
    /// A connected DEALER with a fresh identity (a libzmq ROUTER without handover ignores a
    /// second connection under an identity it still knows).
    pub(crate) async fn connect(target: RawTarget) -> RawClient {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let identity = format!(
            "bench-raw-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut options = SocketOptions::default();
        options.peer_identity(identity.parse().expect("identity"));
        options.connect_timeout(Duration::from_secs(5));
        let mut socket = DealerSocket::with_options(options);
        socket.connect(&target.endpoint).await.expect("raw connect");
        let request = raw_request(&identity, target.server_id, target.invokation_timeout);
        RawClient { socket, request }
    }

    async fn send(&mut self) {
        self.socket
            .send(self.request.clone())
            .await
            .expect("raw send");
    }

    /// The next reply, checked. The timer is only polled (so only armed) when no reply is
    /// ready yet, as with a runtime's own `timeout`, so a busy pipeline pays nothing for it.
    async fn recv<H: Harness>(&mut self) {
        let recv = self.socket.recv();
        let limit = sleep::<H>(REPLY_TIMEOUT);
        pin_mut!(recv, limit);
        match select(recv, limit).await {
            Either::Left((message, _)) => check_raw_reply(message.expect("raw recv")),
            Either::Right(_) => panic!("raw: no reply within {REPLY_TIMEOUT:?}"),
        }
    }
}

fn check_raw_reply(message: ZmqMessage) {
    assert_eq!(message.len(), 4, "raw reply has {} frames", message.len());
    check_payload(message.get(2).expect("payload frame"));
}

/// Throughput with `window` requests in flight for `secs` (one send per receive), after a
/// warm-up of two windows. Returns the client so that it is closed outside the task.
pub(crate) async fn raw_throughput<H: Harness>(
    target: RawTarget,
    window: usize,
    secs: Duration,
    server_pid: Option<u32>,
) -> (Window, RawClient) {
    let mut client = RawClient::connect(target).await;
    warm_up::<H>(&mut client, window).await;

    let mark = CpuMark::now(server_pid);
    let start = Instant::now();
    let deadline = start + secs;
    for _ in 0..window {
        client.send().await;
    }
    let mut outstanding = window;
    let mut completed = 0u64;
    loop {
        client.recv::<H>().await;
        outstanding -= 1;
        completed += 1;
        if Instant::now() >= deadline {
            break;
        }
        client.send().await;
        outstanding += 1;
    }
    let result = Window::since(mark, server_pid, completed, start.elapsed());
    // Drain what is still in flight (not timed) so the next run starts with an idle server.
    for _ in 0..outstanding {
        client.recv::<H>().await;
    }
    (result, client)
}

/// Two windows' worth of requests, pipelined, all answered.
async fn warm_up<H: Harness>(client: &mut RawClient, window: usize) {
    for _ in 0..window {
        client.send().await;
    }
    for _ in 0..window {
        client.recv::<H>().await;
        client.send().await;
    }
    for _ in 0..window {
        client.recv::<H>().await;
    }
}

/// `n` sequential round trips on `client`, which is handed back so that latency runs in chunks
/// (interleaved with the pool's) go on over one connection.
pub(crate) async fn raw_latency<H: Harness>(
    mut client: RawClient,
    n: usize,
) -> (Vec<Duration>, RawClient) {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        client.send().await;
        client.recv::<H>().await;
        samples.push(t.elapsed());
    }
    (samples, client)
}
