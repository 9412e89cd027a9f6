//! The hololinked client pool on async-std.
//!
//! One [`Pool`] multiplexes many concurrent requests over ZeroMQ to many hololinked servers
//! and hands each reply to the task that asked, by message id. This crate is
//! [`pool_driver`] run on async-std: the API is the driver's (the same types and methods as
//! `pool-tokio` and `pool-smol`), with the runtime filled in.
//!
//! ```
//! use std::time::Duration;
//! use pool_async_std::Pool;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // A hololinked-compatible test server stands in for the instrument.
//! # let server = pool_testkit::TestServer::start(
//! #     pool_testkit::ServerConfig::builder("spectrometer").tcp().build())?;
//! # let endpoint = server.tcp_endpoint().unwrap().to_owned();
//! async_std::task::block_on(async {
//!     let pool = Pool::builder().server("spectrometer", endpoint).build()?;
//!     pool.ready(Duration::from_secs(5)).await?;
//!     let number: f64 = pool.read_property("spectrometer", "number").await?.json()?;
//!     let sum: i64 = pool
//!         .invoke_action("spectrometer", "add", &serde_json::json!({"a": 1, "b": 2}))
//!         .await?
//!         .json()?;
//!     assert_eq!((number, sum), (1.5, 3));
//!     pool.shutdown().await;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! zeromq's tasks and the pool's own tasks run on async-std's global executor; the pool can be
//! built and used from any thread. zeromq's runtime features are mutually exclusive, so this
//! crate cannot be linked into the same binary as `pool-tokio` or `pool-smol`.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

use std::future::Future;
use std::time::Instant;

pool_driver::adapter_api!(AsyncStd);

/// async-std as a [`pool_driver::Runtime`]: its global executor and async-io timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    type Sleep = async_io::Timer;

    /// async-std's executor is global, so it is always there.
    fn current() -> Option<Self> {
        Some(AsyncStd)
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping async-std's handle detaches the task; it runs to completion.
        drop(async_std::task::spawn(future));
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        async_io::Timer::at(deadline)
    }
}
