//! The timer task: gives the pool its clock input when the next deadline comes.
//!
//! Invariants:
//! * the clock, not the sleep, decides whether a deadline has passed: a sleep that ends early
//!   (or late) only makes the pool look at the clock;
//! * one sleep at a time, at the deadline the pool armed last; the pool raises [`Signal`] when
//!   it arms an earlier one (or closes), and the task starts over.

use std::sync::Arc;

use futures::future::select;
use futures::pin_mut;

use crate::signal::Signal;
use crate::Runtime;

/// What the timer task sleeps towards.
pub(crate) enum Armed {
    /// The pool closed: the task ends.
    Closed,
    /// No deadline: wait for one.
    Idle,
    /// The next deadline.
    At(std::time::Instant),
}

/// What the timer task needs from the pool.
pub(crate) trait TimerHost: Send + Sync + 'static {
    /// The runtime whose sleeps the task uses.
    type Rt: Runtime;

    /// The runtime.
    fn runtime(&self) -> &Self::Rt;

    /// The deadline armed now.
    fn armed(&self) -> Armed;

    /// Raised when the armed deadline moved earlier or the pool closed.
    fn moved(&self) -> &Signal;

    /// The sleep ended: read the clock, expire what is due, re-arm. `false` once the pool
    /// closed.
    fn fire(self: &Arc<Self>) -> bool;
}

/// Runs until the pool closes.
pub(crate) async fn run<H: TimerHost>(host: Arc<H>) {
    loop {
        match host.armed() {
            Armed::Closed => return,
            Armed::Idle => host.moved().wait().await,
            Armed::At(at) => {
                let sleep = host.runtime().sleep_until(at);
                let moved = host.moved().wait();
                pin_mut!(sleep, moved);
                select(sleep, moved).await;
            }
        }
        if !host.fire() {
            return;
        }
    }
}
