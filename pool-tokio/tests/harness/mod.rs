//! pool-tokio as a `pool_suite::Harness`, on both of tokio's schedulers: what the conformance
//! suite, the live smoke test and the round-trip bench run on. Each test target uses the
//! schedulers it needs.
#![allow(dead_code)]

use std::future::Future;

use pool_suite::Harness;

/// pool-tokio on a multi-thread runtime with two workers (one per core of the CI machine).
pub struct TokioMultiThread;

impl Harness for TokioMultiThread {
    type Rt = pool_tokio::Tokio;
    const NAME: &'static str = "tokio multi-thread";

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(future)
    }
}

/// pool-tokio on a current-thread runtime.
pub struct TokioCurrentThread;

impl Harness for TokioCurrentThread {
    type Rt = pool_tokio::Tokio;
    const NAME: &'static str = "tokio current-thread";

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(future)
    }
}
