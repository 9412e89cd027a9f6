//! Waiting for free request slots, within a deadline: the one slot wait of the driver, used by
//! a single request ([`Pending`](crate::Pending)) and by a fan-out
//! ([`Pool::execute_in_all`](crate::Pool::execute_in_all)) alike.
//!
//! Invariants:
//! * listen first, then try: a slot freed between the try and the wait is never missed;
//! * the clock decides the deadline ([`Engine::now`]); the runtime's sleep only makes the
//!   wait look at the clock again;
//! * the deadline is the caller's, fixed by its first start attempt, and only read here.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::FutureExt;

use crate::engine::Engine;
use crate::Runtime;
use pool_core::Instant as CoreInstant;

/// A wait for free slots.
pub(crate) struct SlotWait<Rt: Runtime> {
    listener: Option<event_listener::EventListener>,
    sleep: Option<Pin<Box<Rt::Sleep>>>,
}

impl<Rt: Runtime> SlotWait<Rt> {
    pub(crate) fn new() -> SlotWait<Rt> {
        SlotWait {
            listener: None,
            sleep: None,
        }
    }

    /// Calls `attempt` whenever slots may have freed up, until it returns something (`Some`),
    /// or until the clock passes `deadline` (`None`).
    pub(crate) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        engine: &Engine<Rt>,
        deadline: Option<CoreInstant>,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Poll<Option<T>> {
        loop {
            if let Some(listener) = self.listener.as_mut() {
                if listener.poll_unpin(cx).is_pending() {
                    let Some(at) = deadline else {
                        return Poll::Pending;
                    };
                    if engine.now() >= at {
                        return Poll::Ready(None);
                    }
                    let sleep = self.sleep.get_or_insert_with(|| {
                        Box::pin(engine.runtime().sleep_until(engine.instant_of(at)))
                    });
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // The sleep ended: the clock says whether the deadline passed.
                    self.sleep = None;
                    continue;
                }
            }
            self.listener = Some(engine.slots_freed().listen());
            if let Some(done) = attempt() {
                return Poll::Ready(Some(done));
            }
        }
    }
}
