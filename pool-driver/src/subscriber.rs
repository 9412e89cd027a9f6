//! One server's event subscriber: a task owning a zeromq `SubSocket` connected to the server's
//! PUB socket, subscribed to the topics the pool's subscriptions want, for as long as any are
//! wanted.
//!
//! Each attempt makes a fresh socket, subscribes it to every wanted topic (zeromq sends them to
//! the publisher as soon as the connection is up), connects, and reads. When the wanted topics
//! change the pool raises the task's signal and the task renews its subscriptions. When the
//! connection breaks the task drops its socket (and with it zeromq's own reconnect task, so
//! only one policy decides), reports the loss, waits the delay the core gives, and tries again.
//!
//! Invariants:
//! * the task talks to the pool only through [`PublisherHost`], so it knows nothing of the
//!   engine;
//! * the SUB socket has the same receive limits as the request sockets (checked at every frame
//!   header); a receive error other than an unknown ZMTP command ends the attempt;
//! * the task ends when the pool closes its publisher link, whatever it is doing;
//! * events that are ready together are handed to the pool as one burst (one lock), and the
//!   subscriptions they woke are woken right after, before the task waits, yields or acts on
//!   anything else: never later than the end of the burst, never once per event.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use futures::future::{select, Either};
use futures::{pin_mut, FutureExt, StreamExt};
use zeromq::{CodecError, Socket, SocketEvent, SocketRecv, SubSocket, ZmqError, ZmqMessage};

use crate::connection::{receive_error, socket_options};
use crate::health::{Health, Watched};
use crate::settings::Settings;
use crate::signal::Signal;
use crate::Runtime;
use pool_core::pool::ServerId;

/// Events read in a row before the reader lets other tasks run (as for replies).
const READS_PER_TURN: u32 = 128;

/// Which server and publisher link a subscriber task serves.
pub(crate) struct PublisherTarget {
    pub(crate) server: ServerId,
    pub(crate) epoch: u64,
    pub(crate) name: Arc<str>,
    pub(crate) endpoint: Arc<str>,
    /// Raised when the wanted topics change or the link closes.
    pub(crate) wake: Arc<Signal>,
}

/// What a subscriber task needs from the pool.
pub(crate) trait PublisherHost: Send + Sync + 'static {
    /// The runtime the task runs on.
    type Rt: Runtime;

    /// The pool's settings (connect timeout, receive limit).
    fn settings(&self) -> &Settings;

    /// The runtime (for the reconnect delay).
    fn runtime(&self) -> &Self::Rt;

    /// The topics wanted now, or `None` if the link is closed.
    fn wanted(&self, target: &PublisherTarget) -> Option<BTreeSet<String>>;

    /// The socket is connected and subscribed to every topic of the last `wanted`.
    fn connected(self: &Arc<Self>, target: &PublisherTarget);

    /// A burst of events (or what claim to be some) arrived, oldest first; takes them all out
    /// of `messages`. The wakers of the subscriptions they woke are added to `to_wake`, for
    /// the task to wake once it holds nothing of the pool's.
    fn events(
        self: &Arc<Self>,
        target: &PublisherTarget,
        messages: &mut Vec<ZmqMessage>,
        to_wake: &mut Vec<Waker>,
    );

    /// The attempt ended; returns how long to wait before the next one, or `None` if the link
    /// is closed.
    fn lost(self: &Arc<Self>, target: &PublisherTarget, ended: &Ended) -> Option<Duration>;
}

/// How an attempt ended.
pub(crate) struct Ended {
    /// Why, in words.
    pub(crate) error: String,
    /// Whether the publisher broke the protocol (as opposed to going away or being absent).
    pub(crate) protocol_error: bool,
}

impl Ended {
    fn gone(error: String) -> Ended {
        Ended {
            error,
            protocol_error: false,
        }
    }
}

/// Runs the subscriber of one publisher link until the pool closes it.
pub(crate) async fn run<H: PublisherHost>(host: Arc<H>, target: PublisherTarget) {
    let mut health = Health::default();
    loop {
        let Some(ended) = session(&host, &target, &mut health).await else {
            return;
        };
        let Some(delay) = host.lost(&target, &ended) else {
            return;
        };
        health.report_failure(
            Watched::Publisher,
            &target.name,
            &target.endpoint,
            &ended.error,
        );
        tracing::debug!(server = %target.name, ?delay, "event publisher: next attempt after the backoff");
        let rt = host.runtime();
        let sleep = rt.sleep_until(crate::runtime::instant_after(rt.now(), delay));
        let closed = wait_closed(&*host, &target);
        pin_mut!(sleep, closed);
        if let Either::Right(_) = select(sleep, closed).await {
            return;
        }
    }
}

/// One attempt: `None` when the link was closed, else how the attempt ended.
async fn session<H: PublisherHost>(
    host: &Arc<H>,
    target: &PublisherTarget,
    health: &mut Health,
) -> Option<Ended> {
    let mut subscribed = host.wanted(target)?;
    let mut socket = new_socket(host.settings());
    let mut monitor = socket.monitor();
    for topic in &subscribed {
        // Before a connection there is no peer: this only records the topic, which zeromq sends
        // when the connection is up.
        if let Err(e) = socket.subscribe(topic).await {
            return Some(Ended::gone(format!("subscribe failed: {e}")));
        }
    }
    {
        let connect = socket.connect(&target.endpoint);
        let closed = wait_closed(&**host, target);
        pin_mut!(connect, closed);
        match select(connect, closed).await {
            Either::Left((Ok(()), _)) => {}
            Either::Left((Err(e), _)) => {
                return Some(Ended::gone(format!("connect failed: {e}")));
            }
            Either::Right(((), _)) => return None,
        }
    }
    // The wanted topics may have changed while connecting (the wait above took the signal).
    let wanted = host.wanted(target)?;
    if let Err(e) = renew(&mut socket, &mut subscribed, wanted).await {
        return Some(Ended::gone(format!("subscribe failed: {e}")));
    }
    host.connected(target);
    health.report_up(Watched::Publisher, &target.name, &target.endpoint);
    let mut burst = Burst::default();
    let mut since_yield = 0;
    loop {
        since_yield += 1;
        if since_yield == READS_PER_TURN {
            since_yield = 0;
            burst.deliver(host, target);
            if !H::Rt::YIELDS_BY_ITSELF {
                crate::connection::yield_now().await;
            }
        }
        // An event that is already there is read at once, without setting up the waits for the
        // signal and the monitor; they are looked at whenever nothing is ready, and at least
        // every READS_PER_TURN events.
        let ready = if since_yield == 0 {
            None
        } else {
            socket.recv().now_or_never()
        };
        let next = if let Some(received) = ready {
            Next::Received(received)
        } else {
            burst.deliver(host, target);
            let recv = socket.recv();
            let woken = target.wake.wait();
            let dropped = async {
                while let Some(event) = monitor.next().await {
                    if let SocketEvent::Disconnected(_) = event {
                        return;
                    }
                }
            };
            pin_mut!(recv, woken, dropped);
            match select(recv, select(woken, dropped)).await {
                Either::Left((received, _)) => Next::Received(received),
                Either::Right((Either::Left(_), _)) => Next::Woken,
                Either::Right((Either::Right(_), _)) => Next::Dropped,
            }
        };
        match next {
            Next::Received(Ok(message)) => burst.messages.push(message),
            Next::Received(Err(ZmqError::Codec(CodecError::Command(e)))) => {
                tracing::debug!(server = %target.name, error = %e, "unknown ZMTP command ignored");
            }
            Next::Received(Err(e)) => {
                burst.deliver(host, target);
                return Some(Ended {
                    error: receive_error(&e),
                    protocol_error: !matches!(e, ZmqError::NoMessage),
                });
            }
            Next::Dropped => {
                burst.deliver(host, target);
                return Some(Ended::gone("the publisher closed the connection".into()));
            }
            Next::Woken => {
                burst.deliver(host, target);
                let wanted = host.wanted(target)?;
                if let Err(e) = renew(&mut socket, &mut subscribed, wanted).await {
                    return Some(Ended::gone(format!("subscribe failed: {e}")));
                }
                host.connected(target);
            }
        }
    }
}

/// Events read in a row, handed to the pool together, and the wakers of the subscriptions they
/// woke.
#[derive(Default)]
struct Burst {
    messages: Vec<ZmqMessage>,
    wakes: Vec<Waker>,
}

impl Burst {
    /// Hands the events to the pool and wakes the subscriptions that have news.
    fn deliver<H: PublisherHost>(&mut self, host: &Arc<H>, target: &PublisherTarget) {
        if !self.messages.is_empty() {
            host.events(target, &mut self.messages, &mut self.wakes);
            self.messages.clear();
        }
        for waker in self.wakes.drain(..) {
            waker.wake();
        }
    }
}

enum Next {
    Received(Result<ZmqMessage, ZmqError>),
    Woken,
    Dropped,
}

/// Subscribes to what is wanted and not yet subscribed, and unsubscribes from the rest.
async fn renew(
    socket: &mut SubSocket,
    subscribed: &mut BTreeSet<String>,
    wanted: BTreeSet<String>,
) -> Result<(), ZmqError> {
    for topic in wanted.difference(subscribed) {
        socket.subscribe(topic).await?;
    }
    for topic in subscribed.difference(&wanted) {
        socket.unsubscribe(topic).await?;
    }
    *subscribed = wanted;
    Ok(())
}

fn new_socket(settings: &Settings) -> SubSocket {
    SubSocket::with_options(socket_options(settings))
}

/// Resolves when the pool has closed this publisher link.
async fn wait_closed<H: PublisherHost>(host: &H, target: &PublisherTarget) {
    loop {
        target.wake.wait().await;
        if host.wanted(target).is_none() {
            return;
        }
    }
}
