//! A Thing's worker thread: its job queue, the job's status, and the replies it hands to the
//! router thread through the inbox.
//!
//! Invariants:
//! * one worker a Thing runs its jobs one at a time, in arrival order; while a job keeps the Thing
//!   busy (`sleep_for`) the next one waits, as in hololinked's per-Thing execution;
//! * a job runs at most once, and it is either run or answered with `TIMEOUT` `"invokation"`,
//!   never both: [`JobStatus`] moves once out of *queued*, to *running* (by the worker) or to
//!   *timed out* (by the router thread's timer), whichever comes first;
//! * a worker never touches the ROUTER socket: every reply goes to the router thread as one
//!   inbox message ([`to_inbox`] / [`from_inbox`]), so the behaviour (delay, hostile, ...) is
//!   applied in one place;
//! * a successful `writeproperty` of an observable property publishes its change event through
//!   the run's [`Publisher`] right after executing, before its reply is handed on;
//! * a stopped queue ends the worker at its next wait: queued jobs and a busy job's late reply
//!   are abandoned, unanswered.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use super::publisher::Publisher;
use crate::events::change_event_name;
use crate::handling::{Operation, OutReply, Schedule, EXECUTION_TIMEOUT};
use crate::lock::lock;
use crate::thing::{Outcome, Thing};

/// The inproc address of the router thread's inbox.
pub(super) const INBOX: &str = "inproc://pool-testkit-inbox";

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const INVOKATION_TIMED_OUT: u8 = 2;

/// Whether a job waits, runs or timed out waiting; shared by the worker and the router's timer.
#[derive(Clone, Default)]
pub(super) struct JobStatus(Arc<AtomicU8>);

impl JobStatus {
    /// Queued → running; false when its invokation timeout came first.
    fn start(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Queued → timed out; false when the worker started it first.
    pub(super) fn time_out(&self) -> bool {
        self.0
            .compare_exchange(
                QUEUED,
                INVOKATION_TIMED_OUT,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
    }
}

/// An operation waiting for its Thing.
pub(super) struct Job {
    pub op: Operation,
    pub status: JobStatus,
}

/// The jobs of one Thing, and the stop flag its worker waits on.
#[derive(Default)]
pub(super) struct WorkerQueue {
    state: Mutex<QueueState>,
    cv: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    stop: bool,
}

impl WorkerQueue {
    pub(super) fn push(&self, job: Job) {
        lock(&self.state).jobs.push_back(job);
        self.cv.notify_all();
    }

    pub(super) fn stop(&self) {
        lock(&self.state).stop = true;
        self.cv.notify_all();
    }

    /// Next job, or `None` when stopped.
    fn pop(&self) -> Option<Job> {
        let mut state = lock(&self.state);
        loop {
            if state.stop {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            state = self.cv.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Sleeps until `deadline`; false when stopped meanwhile.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut state = lock(&self.state);
        loop {
            if state.stop {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            state = self
                .cv
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// One Thing's executor: runs its jobs one at a time, in arrival order.
pub(super) struct Worker {
    pub thing: Thing,
    pub server_id: String,
    pub queue: Arc<WorkerQueue>,
    /// Connected to [`INBOX`].
    pub push: zmq::Socket,
    /// Where the Thing's observable properties publish their change events.
    pub publisher: Arc<Publisher>,
}

impl Worker {
    pub(super) fn run(mut self) {
        while let Some(job) = self.queue.pop() {
            if !job.status.start() {
                continue; // its invokation timeout fired: dropped, never executed
            }
            let start = Instant::now();
            let outcome = job.op.execute_on(&mut self.thing);
            let h = &job.op.header;
            self.publish_change(h.operation.as_str(), h.objekt.as_deref(), &outcome);
            let schedule = Schedule::of(&h.context, start, outcome.busy_for);
            if let Some(timeout_at) = schedule.timeout_at {
                if !self.queue.sleep_until(timeout_at) {
                    return;
                }
                self.send(&OutReply::timeout(h, &self.server_id, EXECUTION_TIMEOUT));
            }
            // The Thing stays busy until the job finishes; a late result is discarded.
            if !self.queue.sleep_until(schedule.done_at) {
                return;
            }
            if schedule.sends_outcome(&h.context) {
                self.send(&OutReply::of_outcome(h, &self.server_id, outcome));
            }
        }
    }

    /// Publishes the change event of an observable property the job wrote, if any (before the
    /// reply, as hololinked's property setter does).
    fn publish_change(&mut self, operation: &str, objekt: Option<&str>, outcome: &Outcome) {
        if let Some((name, value)) = self.thing.observed_change(operation, objekt, outcome) {
            self.publisher
                .publish(self.thing.id(), &change_event_name(&name), value);
        }
    }

    /// Hands a reply to the router thread, which sends it according to the behaviour.
    fn send(&self, reply: &OutReply) {
        // Fails only when the router thread is gone: then nobody can be answered anyway.
        let _ = self.push.send_multipart(to_inbox(reply), zmq::DONTWAIT);
    }
}

/// The inbox message carrying `reply`: `"R"` and its six parts.
fn to_inbox(reply: &OutReply) -> [&[u8]; 7] {
    [
        b"R",
        reply.message_type.as_bytes(),
        reply.message_id.as_bytes(),
        &reply.identity,
        &reply.header,
        &reply.payload,
        &reply.preserialized,
    ]
}

/// The reply an inbox message carries; `None` for anything else (the stop signal).
pub(super) fn from_inbox(frames: Vec<Vec<u8>>) -> Option<OutReply> {
    if frames.len() != 7 || frames[0] != b"R" {
        return None;
    }
    let mut it = frames.into_iter().skip(1);
    let mut next = || it.next().unwrap_or_default();
    Some(OutReply {
        message_type: String::from_utf8_lossy(&next()).into_owned(),
        message_id: String::from_utf8_lossy(&next()).into_owned(),
        identity: next(),
        header: next(),
        payload: next(),
        preserialized: next(),
    })
}
