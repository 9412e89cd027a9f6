//! One connection attempt to one server: a zeromq DEALER socket owned by one task.
//!
//! zeromq's DEALER never reconnects by itself, so each attempt is a fresh socket: connect,
//! report `handle_connected`, then write what the core transmits, read replies and watch the
//! socket monitor, all in this one task, until the peer disconnects, a send fails or the pool
//! closes the link. The socket is dropped before the loss is reported, so the next attempt
//! (which the core schedules after its backoff) never meets the old connection's identity.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::{select, Either};
use futures::{pin_mut, StreamExt};
use zeromq::{
    CodecError, DealerSocket, Socket, SocketEvent, SocketOptions, SocketRecv, SocketSend, ZmqError,
};

use crate::shared::{is_current, Outbound, Shared};
use crate::signal::Signal;
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

/// Which server and attempt a task serves.
pub(crate) struct Target {
    pub(crate) server: ServerId,
    pub(crate) epoch: u64,
    pub(crate) name: Arc<str>,
    pub(crate) endpoint: Arc<str>,
    pub(crate) wake: Arc<Signal>,
}

/// How a connection attempt ended.
enum Exit {
    /// The pool closed the link (server removed, pool shut down, core gave up on it).
    Closed,
    /// Could not connect.
    ConnectFailed(ZmqError),
    /// The connection broke. `unsent` are requests taken from the outbox but never written.
    Lost {
        reason: LostReason,
        unsent: Vec<RequestId>,
        error: String,
    },
}

pub(crate) async fn run<Rt: Runtime>(shared: Arc<Shared<Rt>>, target: Target) {
    let exit = session(&shared, &target).await;
    // The socket is gone now; tell the core (unless the pool itself closed the link).
    report(&shared, &target, exit);
}

async fn session<Rt: Runtime>(shared: &Arc<Shared<Rt>>, target: &Target) -> Exit {
    let mut socket = match new_socket(shared) {
        Ok(socket) => socket,
        Err(e) => return Exit::ConnectFailed(e),
    };
    // The monitor must be taken before `split()`, which gives it up.
    let mut monitor = socket.monitor();
    {
        let connect = socket.connect(&target.endpoint);
        let closed = wait_closed(shared, target);
        pin_mut!(connect, closed);
        match select(connect, closed).await {
            Either::Left((Ok(()), _)) => {}
            Either::Left((Err(e), _)) => return Exit::ConnectFailed(e),
            Either::Right(((), _)) => return Exit::Closed,
        }
    }
    if !connected(shared, target) {
        return Exit::Closed;
    }
    let (mut send, mut recv) = socket.split();

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
            if !take_outbox(shared, target, &mut batch()) {
                return Exit::Closed;
            }
            loop {
                let next = batch().pop_front();
                let Some((request, message)) = next else {
                    break;
                };
                let sent = send.send(message).await;
                shared.in_writers.fetch_sub(1, Ordering::AcqRel);
                if sent.is_ok() && request.is_some() {
                    shared
                        .counters
                        .requests_written
                        .fetch_add(1, Ordering::Relaxed);
                }
                if let Err(e) = sent {
                    let mut unsent: Vec<RequestId> = request.into_iter().collect();
                    unsent.extend(batch().iter().filter_map(|(id, _)| *id));
                    let given_up = batch().len();
                    batch().clear();
                    shared.in_writers.fetch_sub(given_up, Ordering::AcqRel);
                    shared.batch_written.notify(usize::MAX);
                    return Exit::Lost {
                        reason: LostReason::SendFailed,
                        unsent,
                        error: format!("send failed: {e}"),
                    };
                }
            }
            shared.batch_written.notify(usize::MAX);
        }
    };
    let reader = async {
        let mut since_yield = 0;
        loop {
            // Replies that are already there make `recv` ready at once, so without a pause this
            // loop would read every one of them before the writer (polled in the same task) sends
            // the requests they made room for: the server would idle while the client reads.
            // tokio's budget forces such a pause; async-io (async-std, smol) has none.
            since_yield += 1;
            if !Rt::YIELDS_BY_ITSELF && since_yield == READS_PER_TURN {
                since_yield = 0;
                yield_now().await;
            }
            match recv.recv().await {
                Ok(message) => shared.on_message(target.server, target.epoch, message),
                // A well-framed ZMTP command zeromq does not know (a heartbeat PING): harmless.
                Err(ZmqError::Codec(CodecError::Command(e))) => {
                    shared.counters.recv_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(server = %target.name, error = %e, "unknown ZMTP command ignored");
                }
                // Anything else leaves the stream out of step or ended: the connection is lost.
                Err(e) => {
                    if !matches!(e, ZmqError::NoMessage) {
                        shared
                            .counters
                            .protocol_errors
                            .fetch_add(1, Ordering::Relaxed);
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
    let left = batch().len();
    if left > 0 {
        shared.in_writers.fetch_sub(left, Ordering::AcqRel);
        shared.batch_written.notify(usize::MAX);
    }
    match exit {
        Exit::Lost {
            reason,
            mut unsent,
            error,
        } => {
            unsent.extend(batch().iter().filter_map(|(id, _)| *id));
            Exit::Lost {
                reason,
                unsent,
                error,
            }
        }
        other => other,
    }
}

fn new_socket<Rt: Runtime>(shared: &Shared<Rt>) -> Result<DealerSocket, ZmqError> {
    let identity =
        zeromq::util::PeerIdentity::try_from(shared.settings.client_id.as_bytes().to_vec())?;
    let mut options = SocketOptions::default();
    options.peer_identity(identity);
    options.connect_timeout(shared.settings.connect_timeout);
    // Checked at every frame header, before anything is reserved for the body: no peer can make
    // the pool hold more than this for one message, during the ZMTP handshake or after it.
    options
        .max_message_size(
            shared
                .settings
                .max_reply_len
                .saturating_add(REPLY_HEADER_ALLOWANCE),
        )
        .max_message_frames(MAX_MESSAGE_FRAMES);
    Ok(DealerSocket::with_options(options))
}

/// Why a receive error ended the connection, in words for `Error::Disconnected`.
fn receive_error(error: &ZmqError) -> String {
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

/// Resolves when the pool has closed this link.
async fn wait_closed<Rt: Runtime>(shared: &Shared<Rt>, target: &Target) {
    loop {
        target.wake.wait().await;
        if !is_current(&shared.lock(), target.server, target.epoch) {
            return;
        }
    }
}

/// The socket connected: the core starts the handshake. `false` if the link was closed.
fn connected<Rt: Runtime>(shared: &Arc<Shared<Rt>>, target: &Target) -> bool {
    let mut inner = shared.lock();
    if !is_current(&inner, target.server, target.epoch) {
        return false;
    }
    tracing::debug!(server = %target.name, endpoint = %target.endpoint, "connected");
    let now = shared.now();
    inner.core.handle_connected(target.server, now);
    shared.drain(&mut inner);
    // Raise once so the writer looks at the outbox even if the drain raised before it waited.
    target.wake.raise();
    true
}

/// Moves the link's outbox into `batch`. `false` if the link was closed.
fn take_outbox<Rt: Runtime>(
    shared: &Shared<Rt>,
    target: &Target,
    batch: &mut VecDeque<Outbound>,
) -> bool {
    let mut inner = shared.lock();
    match inner
        .servers
        .get_mut(&target.server)
        .and_then(|s| s.link.as_mut())
        .filter(|l| l.epoch == target.epoch)
    {
        Some(link) => {
            std::mem::swap(&mut link.outbox, batch);
            shared.in_writers.fetch_add(batch.len(), Ordering::AcqRel);
            true
        }
        None => false,
    }
}

/// Tells the core how the attempt ended, unless the pool closed it.
fn report<Rt: Runtime>(shared: &Arc<Shared<Rt>>, target: &Target, exit: Exit) {
    let mut inner = shared.lock();
    if !is_current(&inner, target.server, target.epoch) {
        return;
    }
    let now = shared.now();
    let link = inner
        .servers
        .get_mut(&target.server)
        .and_then(|s| s.link.take());
    match exit {
        Exit::Closed => return,
        Exit::ConnectFailed(e) => {
            shared
                .counters
                .connect_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(server = %target.name, endpoint = %target.endpoint, error = %e, "connect failed");
            inner.loss_detail = Some(connect_error(&e).into());
            inner.core.handle_disconnected(target.server, now);
        }
        Exit::Lost {
            reason,
            mut unsent,
            error,
        } => {
            tracing::debug!(server = %target.name, ?reason, %error, "connection lost");
            // Messages still in the outbox never reached the socket either.
            if let Some(link) = link {
                unsent.extend(link.outbox.iter().filter_map(|(id, _)| *id));
            }
            inner.loss_detail = Some(error.into());
            inner.core.handle_lost(target.server, reason, &unsent, now);
        }
    }
    shared.drain(&mut inner);
    // Taken by the drain's `ServerLost`; never left for a later loss it does not describe.
    inner.loss_detail = None;
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

/// Pending once, with the task woken at once: lets the executor and this task's other futures
/// run before it continues.
async fn yield_now() {
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
