//! From a finished request to what its caller gets: the core's [`Outcome`] as a [`Reply`] or
//! an [`Error`], handed to the request's waiter.
//!
//! Invariants:
//! * a request's waiter is answered at most once (it is taken out of the job);
//! * a reply's frames move into the [`Reply`], never copied;
//! * the core is not asked here: what an error names comes from the job (Thing, server,
//!   deadline), the message id the engine passes in and, only for the outcomes that report it,
//!   from the [`ServerFacts`] the engine supplies.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pool_core::pool::{Completion, Outcome};
use pool_core::MessageIdText;

use crate::error::Error;
use crate::execution_log;
use crate::reply::Reply;
use crate::request::Job;
use pool_core::wire::{RemoteException, TimeoutKind};

/// What the engine knows of a request's server when the request ends.
pub(crate) struct ServerFacts {
    /// Where it is.
    pub(crate) endpoint: Arc<str>,
    /// It answered a HANDSHAKE on its current connection.
    pub(crate) ready: bool,
    /// Why its last connection ended or its last connect failed, if it is not ready.
    pub(crate) last_error: Option<Arc<str>>,
}

/// Hands a finished request's result to its waiter. `frames` are the reply's frames when the
/// outcome came from the server (empty otherwise). `server` is asked only by outcomes that
/// report the server's state.
pub(crate) fn deliver(
    mut done: Completion<Job>,
    message_id: MessageIdText,
    mut frames: Vec<Bytes>,
    server: impl FnOnce() -> ServerFacts,
    max_header_len: usize,
) {
    let Some(waiter) = done.user.waiter.take() else {
        return;
    };
    let result = result_of(&done, message_id, &mut frames, server, max_header_len);
    let _span = done.user.span.enter();
    match &result {
        Ok(_) => tracing::debug!(outcome = ?done.outcome, "request done"),
        Err(e) => tracing::debug!(outcome = ?done.outcome, error = %e, "request failed"),
    }
    // The caller may have stopped waiting (dropped its handle): nothing to do then.
    let _ = waiter.send(result);
}

/// Ends a request whose reply was over the size limit (the reply itself is already dropped).
pub(crate) fn deliver_too_large(
    mut done: Completion<Job>,
    message_id: MessageIdText,
    size: usize,
    limit: usize,
) {
    let Some(waiter) = done.user.waiter.take() else {
        return;
    };
    let job = &done.user;
    let error = Error::ReplyTooLarge {
        thing: job.thing.to_string(),
        server: job.server.to_string(),
        message_id: message_id.as_str().to_owned(),
        size,
        limit,
    };
    let _span = job.span.enter();
    tracing::debug!(error = %error, "request failed");
    let _ = waiter.send(Err(error));
}

fn result_of(
    done: &Completion<Job>,
    id: MessageIdText,
    frames: &mut [Bytes],
    server_facts: impl FnOnce() -> ServerFacts,
    max_header_len: usize,
) -> Result<Reply, Error> {
    let job = &done.user;
    // Only errors own their names; a reply shares the pool's.
    let thing = || job.thing.to_string();
    let server = || job.server.to_string();
    let message_id = || id.as_str().to_owned();
    let mut frame = |i: usize| frames.get_mut(i).map(std::mem::take).unwrap_or_default();
    match done.outcome {
        Outcome::Reply | Outcome::Sent => Ok(Reply {
            thing: Arc::clone(&job.thing),
            server: Arc::clone(&job.server),
            message_id: id,
            header: frame(1),
            payload: frame(2),
            preserialized: frame(3),
            oneway: done.outcome == Outcome::Sent,
            with_logs: job.thing_context.fetch_execution_logs,
        }),
        Outcome::Exception => {
            let payload = frame(2);
            let remote = RemoteException::parse(&payload);
            Err(Error::Remote {
                thing: thing(),
                server: server(),
                message_id: message_id(),
                kind: remote.kind,
                message: remote.message,
                traceback: remote.traceback,
                notes: remote.notes,
                execution_logs: if job.thing_context.fetch_execution_logs {
                    execution_log::logs_of(&payload)
                } else {
                    Vec::new()
                },
                payload,
            })
        }
        Outcome::InvalidMessage => {
            let payload = frame(2);
            let remote = RemoteException::parse(&payload);
            Err(Error::InvalidMessage {
                thing: thing(),
                server: server(),
                message_id: message_id(),
                kind: remote.kind,
                message: remote.message,
                payload,
            })
        }
        Outcome::ServerTimeout(kind) => Err(Error::ServerTimeout {
            thing: thing(),
            server: server(),
            message_id: message_id(),
            kind,
            limit: match kind {
                TimeoutKind::Invokation => job.server_context.invokation_timeout,
                TimeoutKind::Execution => job.server_context.execution_timeout,
            }
            .map(Into::into),
        }),
        Outcome::Timeout { sent } => {
            let facts = server_facts();
            Err(Error::Timeout {
                thing: thing(),
                server: server(),
                endpoint: facts.endpoint.to_string(),
                message_id: message_id(),
                after: job.timeout.unwrap_or_default(),
                sent,
                server_ready: facts.ready,
                server_error: (!sent && !facts.ready)
                    .then(|| facts.last_error.map(|e| e.to_string()))
                    .flatten(),
            })
        }
        Outcome::Cancelled => Err(Error::Cancelled {
            thing: thing(),
            server: server(),
            message_id: message_id(),
        }),
        Outcome::Disconnected => Err(Error::Disconnected {
            thing: thing(),
            server: server(),
            message_id: message_id(),
            reason: server_facts()
                .last_error
                .map_or_else(|| "the connection closed".into(), |e| e.to_string()),
        }),
        Outcome::Closed => Err(Error::Closed {
            thing: thing(),
            server: server(),
        }),
        Outcome::Unsendable => Err(Error::HeaderTooLarge {
            thing: thing(),
            max: max_header_len,
        }),
    }
}

/// A request that waited for a free slot until its deadline passed: it never had a message id
/// or a server.
pub(crate) fn slot_wait_timeout(thing: String, after: Option<Duration>) -> Error {
    Error::Timeout {
        thing,
        server: String::new(),
        endpoint: String::new(),
        message_id: String::new(),
        after: after.unwrap_or_default(),
        sent: false,
        server_ready: true,
        server_error: None,
    }
}

/// A request for `thing` that a closed pool refused.
pub(crate) fn closed(thing: &str) -> Error {
    Error::Closed {
        thing: thing.to_owned(),
        server: String::new(),
    }
}
