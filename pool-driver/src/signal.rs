//! A one-waiter wake-up flag shared between the pool and one background task.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

/// Set by anyone, taken by its single waiter. Raising it twice before the waiter runs wakes the
/// waiter once: the waiter always re-reads the shared state after waking, so nothing is missed.
#[derive(Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Forgets a pending raise (the waiter is about to re-read the state anyway).
    pub(crate) fn clear(&self) {
        self.raised.store(false, Ordering::Release);
    }

    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.raised.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.raised.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Waits until the flag is raised, and lowers it.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| self.poll_take(cx)).await;
    }
}
