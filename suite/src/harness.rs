//! What the suite needs from a runtime adapter, and the few runtime-dependent helpers it uses.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::future::{select, Either, FutureExt, RemoteHandle};
use futures::pin_mut;
use pool_driver::{Pool, PoolStats, Runtime};

/// A runtime adapter as the suite drives it.
pub trait Harness: 'static {
    /// The adapter's runtime.
    type Rt: Runtime;
    /// Its name in reports.
    const NAME: &'static str;
    /// Runs `future` to completion on this runtime from a plain thread, with the runtime's
    /// context available to it (so `Pool::builder().build()` finds the runtime).
    fn block_on<F: Future>(future: F) -> F::Output;
}

/// The runtime of the calling context.
fn rt<H: Harness>() -> H::Rt {
    H::Rt::current().expect("the suite runs inside the harness's runtime")
}

/// Sleeps for `duration` on the harness's runtime.
pub async fn sleep<H: Harness>(duration: Duration) {
    rt::<H>().sleep_until(Instant::now() + duration).await;
}

/// Runs `future` as its own task; the handle yields its output (dropping it cancels the task).
pub fn spawn<H: Harness, F>(future: F) -> RemoteHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let (task, handle) = future.remote_handle();
    rt::<H>().spawn(task);
    handle
}

/// Fails the test instead of hanging if `future` does not finish in a minute.
pub async fn bounded<H: Harness, F: Future>(future: F) -> F::Output {
    let limit = sleep::<H>(Duration::from_secs(60));
    pin_mut!(future, limit);
    match select(future, limit).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("the operation did not finish in 60 s (a hang is a bug)"),
    }
}

/// `future`'s output, or `None` if it takes longer than `limit` (for waits whose end is
/// uncertain by nature, such as a PUB/SUB subscription reaching its publisher).
pub async fn within<H: Harness, F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let limit = sleep::<H>(limit);
    pin_mut!(future, limit);
    match select(future, limit).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}

/// Polls the pool's stats until `done` holds (at most 30 s), and returns them. For conditions
/// that depend on messages still on their way, instead of sleeping for a guessed time.
pub async fn eventually<H: Harness>(
    pool: &Pool<H::Rt>,
    done: impl Fn(&PoolStats) -> bool,
) -> PoolStats {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = pool.stats();
        if done(&stats) || Instant::now() >= deadline {
            return stats;
        }
        sleep::<H>(Duration::from_millis(5)).await;
    }
}

/// `s` seconds.
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
