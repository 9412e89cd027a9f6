//! zeromq's dispatcher path: any [`Runtime`] can run zeromq's own tasks.
//!
//! With the `async-dispatcher-runtime` feature zeromq spawns its internal tasks (connect,
//! per-peer writer) through the process-global `async-dispatcher` hook instead of a fixed
//! runtime; its TCP and IPC streams run on the `async-io` reactor, which drives itself on a
//! background thread when no one else does. [`install_dispatcher`] points that hook at a
//! [`Runtime`], so an executor that can spawn `Send` futures and sleep is all the pool needs.

use std::time::Duration;

use async_dispatcher::{Dispatcher, Runnable};

use crate::Runtime;

/// Makes `rt` run zeromq's internal tasks, process-wide. The hook can be set once per process:
/// the first call wins and later calls (by anyone) are ignored, so install it before the first
/// pool is built and from one place.
///
/// This is how `pool-smol` runs on smol, and how to embed the pool in any other executor:
/// implement [`Runtime`] for it, call this once, then build pools with
/// [`PoolBuilder::build_on`](crate::PoolBuilder::build_on) (or `build` if
/// [`Runtime::current`] can find it).
pub fn install_dispatcher<Rt: Runtime>(rt: Rt) {
    async_dispatcher::set_dispatcher(RuntimeDispatcher(rt));
}

/// zeromq's dispatcher hook served by a [`Runtime`].
struct RuntimeDispatcher<Rt>(Rt);

impl<Rt: Runtime> Dispatcher for RuntimeDispatcher<Rt> {
    fn dispatch(&self, runnable: Runnable) {
        self.0.spawn(async move {
            runnable.run();
        });
    }

    fn dispatch_after(&self, duration: Duration, runnable: Runnable) {
        let rt = self.0.clone();
        let at = crate::runtime::instant_after(rt.now(), duration);
        self.0.spawn(async move {
            rt.sleep_until(at).await;
            runnable.run();
        });
    }
}
