//! A request in progress, as its caller holds it: waiting for a slot, started, or done.
//!
//! Invariants:
//! * dropping a started request cancels it in the core (its late reply is dropped there);
//! * a request waiting for a slot owns its deadline until the core takes it on start.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::FutureExt;

use crate::engine::{Deadline, Engine, Refused, Started};
use crate::error::Error;
use crate::outcome;
use crate::reply::Reply;
use crate::request::Request;
use crate::slot_wait::SlotWait;
use crate::Runtime;

/// A request in progress. Await it for the result; drop it to cancel the request.
#[must_use = "dropping a Pending cancels its request"]
pub struct Pending<Rt: Runtime> {
    engine: Arc<Engine<Rt>>,
    state: State<Rt>,
}

enum State<Rt: Runtime> {
    /// The pool was full: waiting for a slot within the deadline.
    Waiting {
        /// `None` only while a start attempt holds it.
        request: Option<Box<Request>>,
        deadline: Deadline,
        wait: SlotWait<Rt>,
    },
    Started(Started),
    Done,
}

impl<Rt: Runtime> Pending<Rt> {
    pub(crate) fn started(engine: Arc<Engine<Rt>>, started: Started) -> Pending<Rt> {
        Pending {
            engine,
            state: State::Started(started),
        }
    }

    /// A request that found the pool full, after its first attempt fixed its deadline.
    pub(crate) fn waiting(
        engine: Arc<Engine<Rt>>,
        request: Box<Request>,
        deadline: Deadline,
    ) -> Pending<Rt> {
        Pending {
            engine,
            state: State::Waiting {
                request: Some(request),
                deadline,
                wait: SlotWait::new(),
            },
        }
    }

    /// The request's message id, once it has a slot (always, unless it is waiting for room in
    /// a full pool).
    #[must_use]
    pub fn message_id(&self) -> Option<&str> {
        match &self.state {
            State::Started(started) => Some(started.message_id.as_str()),
            _ => None,
        }
    }

    /// Waits for a slot, then starts the request; ready at once for a started request.
    fn poll_start(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let State::Waiting {
            request,
            deadline,
            wait,
        } = &mut self.state
        else {
            return Poll::Ready(Ok(()));
        };
        let engine = &self.engine;
        let at = deadline.at().flatten();
        let attempt = || {
            let taken = request.take()?;
            match engine.start(*taken, deadline) {
                Ok(started) => Some(Ok(started)),
                Err(Refused::Full(back)) => {
                    *request = Some(back);
                    None
                }
                Err(Refused::Error(e)) => Some(Err(*e)),
            }
        };
        match wait.poll(cx, engine, at, attempt) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(started))) => {
                self.state = State::Started(started);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Err(e)),
            Poll::Ready(None) => {
                let thing = request.as_ref().map(|r| r.thing.clone());
                let error =
                    outcome::slot_wait_timeout(thing.unwrap_or_default(), deadline.timeout());
                Poll::Ready(Err(error))
            }
        }
    }
}

/// Where the request stands, its Thing, and once started its server and message id.
impl<Rt: Runtime> std::fmt::Debug for Pending<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Pending");
        match &self.state {
            State::Waiting { request, .. } => out
                .field("state", &"waiting for a slot")
                .field("thing", &request.as_ref().map(|r| r.thing.as_str())),
            State::Started(started) => out
                .field("state", &"started")
                .field("thing", &&*started.thing)
                .field("server", &&*started.server)
                .field("message_id", &started.message_id.as_str()),
            State::Done => out.field("state", &"done"),
        };
        out.finish_non_exhaustive()
    }
}

impl<Rt: Runtime> Future for Pending<Rt> {
    type Output = Result<Reply, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.poll_start(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.state = State::Done;
                return Poll::Ready(Err(e));
            }
            Poll::Ready(Ok(())) => {}
        }
        let State::Started(started) = &mut this.state else {
            return Poll::Pending;
        };
        match started.result.poll_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                this.state = State::Done;
                // The waiter is only dropped unanswered if the pool itself was dropped.
                Poll::Ready(result.unwrap_or_else(|_| Err(outcome::closed(""))))
            }
        }
    }
}

impl<Rt: Runtime> Drop for Pending<Rt> {
    fn drop(&mut self) {
        if let State::Started(started) = &self.state {
            self.engine.cancel(started.id);
        }
    }
}
