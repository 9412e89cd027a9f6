//! pool-async-std as a `pool_suite::Harness`: what the conformance suite, the live smoke test
//! and the round-trip bench run on.

use std::future::Future;

use pool_suite::Harness;

/// pool-async-std on async-std's global executor.
pub struct AsyncStd;

impl Harness for AsyncStd {
    type Rt = pool_async_std::AsyncStd;
    const NAME: &'static str = "async-std";

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}
