//! One connection attempt to one server: a task owning a zeromq `DealerSocket` (identity = the
//! client id) that writes what the pool transmits and reads what the server sends.
//!
//! The task selects over three futures: the writer (the link's outbox, filled by the pool),
//! the cancel-safe `recv()` and the socket monitor. zeromq's DEALER does not reconnect, so when
//! the connection breaks the task drops its socket and reports how it ended; the pool decides
//! about a fresh attempt (the core schedules it after its backoff), which never meets the old
//! connection's identity.
//!
//! Invariants:
//! * the task talks to the pool only through [`LinkHost`], so this module knows nothing of
//!   the engine behind it;
//! * a request taken from the outbox is either handed to the socket or reported unsent when
//!   the attempt ends, never both and never neither;
//! * every receive error but an unknown ZMTP command ends the attempt: a stream out of step
//!   is never read on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::{select, Either};
use futures::{pin_mut, StreamExt};
use zeromq::{
    CodecError, DealerSender, DealerSocket, Socket, SocketEvent, SocketOptions, SocketRecv,
    SocketSend, ZmqError, ZmqMessage,
};

use crate::settings::Settings;
use crate::signal::Signal;
use crate::stats::Counters;
use crate::Runtime;
use pool_core::pool::{LostReason, RequestId, ServerId};

/// Bytes a reply may carry beyond `PoolBuilder::max_reply_len` before the transport refuses
/// it at its frame header: room for the reply's header frame, so that a reply just over the
/// limit still reaches its request (which ends `ReplyTooLarge`) instead of costing the
/// connection.
pub(crate) const REPLY_HEADER_ALLOWANCE: usize = 64 * 1024;

/// Most frames in one message from a server. hololinked replies have four (five with the
/// routing frame a ROUTER would see); nothing it sends comes near this.
pub(crate) const MAX_MESSAGE_FRAMES: usize = 64;

/// Replies read in a row before the reader lets the writer (and other tasks) run: tokio's
/// budget, which measured best on async-std and smol too.
const READS_PER_TURN: u32 = 128;

/// One message for a connection task: the request it carries (`None` for a HANDSHAKE) and its
/// frames.
pub(crate) type Outbound = (Option<RequestId>, ZmqMessage);

/// The pool's side of one connection attempt.
pub(crate) struct Link {
    /// Which attempt; a task whose epoch is not the current one is stale.
    pub(crate) epoch: u64,
    /// Messages the pool has transmitted, not yet taken by the task. Bounded by the pool's
    /// capacity plus the HANDSHAKEs of one attempt (the core sends at most one message per
    /// request slot, and HANDSHAKEs only until the first answer).
    pub(crate) outbox: VecDeque<Outbound>,
    /// Wakes the task (new messages, or the link was closed).
    pub(crate) wake: Arc<Signal>,
    /// Cleared when the task has ended and dropped its socket.
    pub(crate) alive: Arc<AtomicBool>,
    /// Messages the task's writer has taken from the outbox and not yet handed to the socket.
    pub(crate) in_writer: Arc<AtomicUsize>,
    /// Enqueues straight into the socket, once connected: whoever drains the core writes a
    /// message itself while nothing waits before it (empty outbox, idle writer), so a request
    /// costs no hop to this task. A message it cannot enqueue at once goes to the outbox.
    pub(crate) direct: Option<DealerSender>,
}

impl Link {
    /// A fresh link for attempt `epoch`.
    pub(crate) fn new(epoch: u64) -> Link {
        Link {
            epoch,
            outbox: VecDeque::new(),
            wake: Arc::new(Signal::default()),
            alive: Arc::new(AtomicBool::new(true)),
            in_writer: Arc::new(AtomicUsize::new(0)),
            direct: None,
        }
    }

    /// Hands `message` to the socket at once if nothing queued before it could be overtaken;
    /// gives it back otherwise (for the outbox).
    pub(crate) fn try_send_now(&self, message: ZmqMessage) -> Result<(), ZmqMessage> {
        match &self.direct {
            Some(direct)
                if self.outbox.is_empty() && self.in_writer.load(Ordering::Acquire) == 0 =>
            {
                direct.try_send(message)
            }
            _ => Err(message),
        }
    }

    /// A target for the task of this link.
    pub(crate) fn target(&self, server: ServerId, name: &Arc<str>, endpoint: &Arc<str>) -> Target {
        Target {
            server,
            epoch: self.epoch,
            name: Arc::clone(name),
            endpoint: Arc::clone(endpoint),
            wake: Arc::clone(&self.wake),
            in_writer: Arc::clone(&self.in_writer),
        }
    }
}

/// Which server and attempt a task serves.
pub(crate) struct Target {
    pub(crate) server: ServerId,
    pub(crate) epoch: u64,
    pub(crate) name: Arc<str>,
    pub(crate) endpoint: Arc<str>,
    pub(crate) wake: Arc<Signal>,
    /// The link's count of messages in the writer.
    pub(crate) in_writer: Arc<AtomicUsize>,
}

/// How a connection attempt ended.
pub(crate) enum Exit {
    /// The pool closed the link (server removed, pool shut down, core gave up on it).
    Closed,
    /// Could not connect; the words say why.
    ConnectFailed(String),
    /// The connection broke. `unsent` are requests taken from the outbox but never written.
    Lost {
        reason: LostReason,
        unsent: Vec<RequestId>,
        error: String,
    },
}

/// What a connection task needs from the pool, seen from the task.
pub(crate) trait LinkHost: Send + Sync + 'static {
    /// The runtime the task runs on.
    type Rt: Runtime;

    /// The pool's settings (identity, connect timeout, reply limit).
    fn settings(&self) -> &Settings;

    /// The driver's counters.
    fn counters(&self) -> &Counters;

    /// Whether `target` is still the server's current attempt.
    fn is_current(&self, target: &Target) -> bool;

    /// The socket connected; `direct` enqueues into it without waiting. `false` if the link
    /// was closed meanwhile.
    fn connected(self: &Arc<Self>, target: &Target, direct: DealerSender) -> bool;

    /// Moves the link's outbox into `batch` (counting them as in the writer, on
    /// `target.in_writer` too). `false` if the link was closed.
    fn take_outbox(&self, target: &Target, batch: &mut VecDeque<Outbound>) -> bool;

    /// `messages` taken from the outbox were handed to the socket or given up (the caller has
    /// already taken them off `target.in_writer`).
    fn left_writer(&self, messages: usize);

    /// The writer handed a batch to its socket (or gave it up).
    fn batch_written(&self);

    /// A message arrived.
    fn message(self: &Arc<Self>, target: &Target, message: ZmqMessage);

    /// The attempt ended, its socket dropped.
    fn ended(self: &Arc<Self>, target: &Target, exit: Exit);
}

/// Runs one connection attempt to its end, then reports how it ended.
pub(crate) async fn run<H: LinkHost>(host: Arc<H>, target: Target) {
    let exit = session(&host, &target).await;
    // The socket is gone now; tell the pool (which ignores it if it closed the link itself).
    host.ended(&target, exit);
}

async fn session<H: LinkHost>(host: &Arc<H>, target: &Target) -> Exit {
    let mut socket = match new_socket(host.settings()) {
        Ok(socket) => socket,
        Err(e) => return Exit::ConnectFailed(connect_error(&e)),
    };
    // The monitor must be taken before `split()`, which gives it up.
    let mut monitor = socket.monitor();
    {
        let connect = socket.connect(&target.endpoint);
        let closed = wait_closed(&**host, target);
        pin_mut!(connect, closed);
        match select(connect, closed).await {
            Either::Left((Ok(()), _)) => {}
            Either::Left((Err(e), _)) => return Exit::ConnectFailed(connect_error(&e)),
            Either::Right(((), _)) => return Exit::Closed,
        }
    }
    tracing::debug!(server = %target.name, endpoint = %target.endpoint, "connected");
    let (mut send, mut recv) = socket.split();
    if !host.connected(target, send.sender()) {
        return Exit::Closed;
    }
    // Once so the writer looks at the outbox even if the pool raised before it waited.
    target.wake.raise();
    let left_writer = |messages: usize| {
        target.in_writer.fetch_sub(messages, Ordering::AcqRel);
        host.left_writer(messages);
    };

    // Messages taken from the outbox and not yet handed to the socket. Kept outside the writer
    // so that, whichever way the connection ends, the requests that never left are known.
    let batch: Mutex<VecDeque<Outbound>> = Mutex::new(VecDeque::new());
    // Never held across an await: it only keeps the future `Send`.
    let batch = || -> MutexGuard<'_, VecDeque<Outbound>> {
        batch.lock().unwrap_or_else(|e| e.into_inner())
    };
    let writer = async {
        loop {
            target.wake.wait().await;
            if !host.take_outbox(target, &mut batch()) {
                return Exit::Closed;
            }
            loop {
                let next = batch().pop_front();
                let Some((request, message)) = next else {
                    break;
                };
                let sent = send.send(message).await;
                left_writer(1);
                if let Err(e) = sent {
                    let mut unsent: Vec<RequestId> = request.into_iter().collect();
                    let mut rest = batch();
                    unsent.extend(rest.iter().filter_map(|(id, _)| *id));
                    left_writer(rest.len());
                    rest.clear();
                    drop(rest);
                    host.batch_written();
                    return Exit::Lost {
                        reason: LostReason::SendFailed,
                        unsent,
                        error: format!("send failed: {e}"),
                    };
                }
                if request.is_some() {
                    host.counters().requests_written.add(1);
                }
            }
            host.batch_written();
        }
    };
    let reader = async {
        let mut since_yield = 0;
        loop {
            // Replies that are already there make `recv` ready at once, so without a pause this
            // loop would read every one of them before the writer (polled in the same task)
            // sends the requests they made room for: the server would idle while the client
            // reads. tokio's budget forces such a pause; async-io (async-std, smol) has none.
            since_yield += 1;
            if !H::Rt::YIELDS_BY_ITSELF && since_yield == READS_PER_TURN {
                since_yield = 0;
                yield_now().await;
            }
            match recv.recv().await {
                Ok(message) => host.message(target, message),
                // A well-framed ZMTP command zeromq does not know (a heartbeat PING): harmless.
                Err(ZmqError::Codec(CodecError::Command(e))) => {
                    host.counters().recv_errors.add(1);
                    tracing::debug!(server = %target.name, error = %e, "unknown ZMTP command ignored");
                }
                // Anything else leaves the stream out of step or ended: the connection is lost.
                Err(e) => {
                    if !matches!(e, ZmqError::NoMessage) {
                        host.counters().protocol_errors.add(1);
                    }
                    return Exit::Lost {
                        reason: LostReason::Disconnected,
                        unsent: Vec::new(),
                        error: receive_error(&e),
                    };
                }
            }
        }
    };
    let watch = async {
        while let Some(event) = monitor.next().await {
            if let SocketEvent::Disconnected(_) = event {
                break;
            }
        }
        Exit::Lost {
            reason: LostReason::Disconnected,
            unsent: Vec::new(),
            error: "the server closed the connection".into(),
        }
    };
    pin_mut!(writer, reader, watch);
    let exit = match select(writer, select(reader, watch)).await {
        Either::Left((exit, _)) => exit,
        Either::Right((Either::Left((exit, _)), _)) => exit,
        Either::Right((Either::Right((exit, _)), _)) => exit,
    };
    // Whatever the writer had taken and not handed to the socket never left.
    let left: Vec<Option<RequestId>> = batch().drain(..).map(|(id, _)| id).collect();
    if !left.is_empty() {
        left_writer(left.len());
        host.batch_written();
    }
    match exit {
        Exit::Lost {
            reason,
            mut unsent,
            error,
        } => {
            unsent.extend(left.into_iter().flatten());
            Exit::Lost {
                reason,
                unsent,
                error,
            }
        }
        other => other,
    }
}

fn new_socket(settings: &Settings) -> Result<DealerSocket, ZmqError> {
    let identity = zeromq::util::PeerIdentity::try_from(settings.client_id.as_bytes().to_vec())?;
    let mut options = socket_options(settings);
    options.peer_identity(identity);
    Ok(DealerSocket::with_options(options))
}

/// The options every socket of the pool has (request DEALERs and event SUBs alike): the connect
/// timeout and the receive limits. The limits are checked at every frame header, before
/// anything is reserved for the body: no peer can make the pool hold more than this for one
/// message, during the ZMTP handshake or after it.
pub(crate) fn socket_options(settings: &Settings) -> SocketOptions {
    let mut options = SocketOptions::default();
    options.connect_timeout(settings.connect_timeout);
    options
        .max_message_size(
            settings
                .max_reply_len
                .saturating_add(REPLY_HEADER_ALLOWANCE),
        )
        .max_message_frames(MAX_MESSAGE_FRAMES);
    options
}

/// Why a receive error ended the connection, in words for `Error::Disconnected`.
pub(crate) fn receive_error(error: &ZmqError) -> String {
    match error {
        ZmqError::NoMessage => "the server closed the connection".into(),
        ZmqError::Codec(CodecError::MessageTooLarge { size, limit }) => format!(
            "protocol violation: a message of {size} bytes announced, over the limit of {limit} \
             bytes (max_reply_len and room for the header)"
        ),
        ZmqError::Codec(CodecError::TooManyFrames { limit }) => {
            format!("protocol violation: a message of more than {limit} frames")
        }
        ZmqError::Codec(CodecError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the stream ended inside a frame".into()
        }
        ZmqError::Codec(CodecError::Io(e)) | ZmqError::Network(e) => format!("receive failed: {e}"),
        ZmqError::Codec(e) => format!("protocol violation: undecodable bytes ({e})"),
        other => format!("receive failed: {other}"),
    }
}

/// Why a connection attempt failed, in words for errors that name the server's last problem.
fn connect_error(error: &ZmqError) -> String {
    match error {
        ZmqError::Codec(CodecError::MessageTooLarge { .. } | CodecError::TooManyFrames { .. }) => {
            format!("connect failed: {}", receive_error(error))
        }
        other => format!("connect failed: {other}"),
    }
}

/// Resolves when the pool has closed this link.
async fn wait_closed<H: LinkHost>(host: &H, target: &Target) {
    loop {
        target.wake.wait().await;
        if !host.is_current(target) {
            return;
        }
    }
}

/// Pending once, with the task woken at once: lets the executor and this task's other futures
/// run before it continues.
pub(crate) async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
