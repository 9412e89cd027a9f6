//! The timer task: calls the core's `handle_timeout` when its next deadline comes.

use std::sync::Arc;

use futures::future::select;
use futures::pin_mut;

use crate::shared::Shared;
use crate::Runtime;

/// Sleeps until the armed deadline or until the pool moves it earlier; the clock, not the
/// sleep, decides whether a deadline has passed.
pub(crate) async fn run<Rt: Runtime>(shared: Arc<Shared<Rt>>) {
    loop {
        let armed = {
            let inner = shared.lock();
            if inner.closed {
                return;
            }
            inner.timer_at
        };
        match armed {
            None => shared.timer.wait().await,
            Some(at) => {
                let sleep = shared.rt.sleep_until(shared.instant_of(at));
                let moved = shared.timer.wait();
                pin_mut!(sleep, moved);
                select(sleep, moved).await;
            }
        }
        let mut inner = shared.lock();
        if inner.closed {
            return;
        }
        let now = shared.now();
        if inner.timer_at.is_some_and(|at| at <= now) {
            inner.core.handle_timeout(now);
        }
        inner.timer_at = None;
        shared.drain(&mut inner);
        // The drain re-armed the timer from the core; this task reads it on the next turn.
        shared.timer.clear();
    }
}
