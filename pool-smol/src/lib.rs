//! The hololinked client pool on smol.
//!
//! One [`Pool`] multiplexes many concurrent requests over ZeroMQ to many hololinked servers
//! and hands each reply to the task that asked, by message id. This crate is
//! [`pool_driver`] run on smol: the API is the driver's (the same types and methods as
//! `pool-tokio` and `pool-async-std`), with the runtime filled in.
//!
//! ```
//! use std::time::Duration;
//! use pool_smol::Pool;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // A hololinked-compatible test server stands in for the instrument.
//! # let server = pool_testkit::TestServer::start(
//! #     pool_testkit::ServerConfig::builder("spectrometer").tcp().build())?;
//! # let endpoint = server.tcp_endpoint().unwrap().to_owned();
//! smol::block_on(async {
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
//! # How it runs
//!
//! zeromq has no smol feature; it is built with its `async-dispatcher-runtime`, whose tasks go
//! through a process-global hook. The first [`Smol`] value made (by `Pool::builder().build()`
//! or [`Smol::new`]) points that hook at smol's global executor
//! ([`pool_driver::install_dispatcher`]); its sockets run on async-io, smol's reactor. So the
//! pool works under plain `smol::block_on`, with no executor to set up. The hook can be set
//! once per process: if something else set it first, zeromq's tasks run there instead.
//!
//! zeromq's runtime features are mutually exclusive, so this crate cannot be linked into the
//! same binary as `pool-tokio` or `pool-async-std`.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

use std::future::Future;
use std::sync::Once;
use std::time::Instant;

pool_driver::adapter_api!(Smol);

/// smol as a [`pool_driver::Runtime`]: its global executor and timers.
#[derive(Clone, Copy, Debug)]
pub struct Smol {
    // Only `new` makes one, so zeromq's dispatcher hook is installed before any pool exists.
    _installed: (),
}

impl Smol {
    /// smol's global executor, with zeromq's tasks routed to it (done once per process).
    #[must_use]
    pub fn new() -> Smol {
        static INSTALL: Once = Once::new();
        let smol = Smol { _installed: () };
        INSTALL.call_once(|| pool_driver::install_dispatcher(smol));
        smol
    }
}

impl Default for Smol {
    fn default() -> Smol {
        Smol::new()
    }
}

impl Runtime for Smol {
    type Sleep = smol::Timer;

    /// smol's executor is global, so it is always there.
    fn current() -> Option<Self> {
        Some(Smol::new())
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        smol::spawn(future).detach();
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        smol::Timer::at(deadline)
    }
}
