//! The three adapters as [`Harness`]es (one per build, by feature).

#[cfg(any(feature = "tokio", feature = "async-std", feature = "smol"))]
use std::future::Future;

#[cfg(any(feature = "tokio", feature = "async-std", feature = "smol"))]
use crate::Harness;

/// pool-tokio on a multi-thread runtime with two workers (one per core of the CI machine).
#[cfg(feature = "tokio")]
pub struct TokioMultiThread;

#[cfg(feature = "tokio")]
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
#[cfg(feature = "tokio")]
pub struct TokioCurrentThread;

#[cfg(feature = "tokio")]
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

/// pool-async-std on async-std's global executor.
#[cfg(feature = "async-std")]
pub struct AsyncStd;

#[cfg(feature = "async-std")]
impl Harness for AsyncStd {
    type Rt = pool_async_std::AsyncStd;
    const NAME: &'static str = "async-std";

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

/// pool-smol on smol's global executor.
#[cfg(feature = "smol")]
pub struct Smol;

#[cfg(feature = "smol")]
impl Harness for Smol {
    type Rt = pool_smol::Smol;
    const NAME: &'static str = "smol";

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
}
