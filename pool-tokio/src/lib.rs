//! The hololinked client pool on tokio.
//!
//! One [`Pool`] multiplexes many concurrent requests over ZeroMQ to many hololinked servers
//! and hands each reply to the task that asked, by message id. This crate is
//! [`pool_driver`] run on tokio: the API is the driver's, with the runtime filled in.
//!
//! ```
//! use std::time::Duration;
//! use pool_tokio::{Pool, Request};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // A hololinked-compatible test server stands in for the instrument.
//! # let server = pool_testkit::TestServer::start(
//! #     pool_testkit::ServerConfig::builder("spectrometer").tcp().build())?;
//! # let endpoint = server.tcp_endpoint().unwrap().to_owned();
//! let pool = Pool::builder()
//!     .server("spectrometer", endpoint) // server id = its ROUTER identity, e.g. "tcp://10.0.0.5:5555"
//!     .request_timeout(Duration::from_secs(10))
//!     .build()?;
//! pool.ready(Duration::from_secs(5)).await?;
//! // A handle on the Thing: its properties, actions and events by name.
//! let spectrometer = pool.thing("spectrometer");
//! let number: f64 = spectrometer.read("number").await?;
//! spectrometer.write("number", &(number * 2.0)).await?;
//! let sum: i64 = spectrometer.invoke("add", &serde_json::json!({"a": 1, "b": 2})).await?;
//! assert_eq!(sum, 3);
//! let all = spectrometer.read_all().await?; // every property at once
//! assert_eq!(all["number"], serde_json::json!(number * 2.0));
//! // Positional arguments, a per-request server deadline, and cancel-on-drop:
//! let pending = pool.request(
//!     Request::invoke_action("spectrometer", "add")
//!         .args(&[20, 22])
//!         .execution_timeout(Some(Duration::from_secs(1))),
//! )?;
//! assert_eq!(pending.await?.json::<i64>()?, 42);
//! pool.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Events arrive as a [`Subscription`], a `futures::Stream` of [`EventItem`]s: the events in
//! order, and markers where some were lost (a slow consumer's [`EventItem::Lagged`], a
//! publisher's [`EventItem::Disconnected`] and [`EventItem::Reconnected`]).
//!
//! ```
//! use futures::StreamExt;
//! use pool_tokio::{EventItem, Pool};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // A test server whose Thing publishes `{"n":k}` as event "tick", 200 times a second.
//! # let server = pool_testkit::TestServer::start(
//! #     pool_testkit::ServerConfig::builder("spectrometer")
//! #         .tcp()
//! #         .event_stream(pool_testkit::EventStream::new("spectrometer", "tick").rate(200.0))
//! #         .build())?;
//! # let endpoint = server.tcp_endpoint().unwrap().to_owned();
//! let pool = Pool::builder().server("spectrometer", endpoint).build()?;
//! let mut ticks = pool.subscribe_event("spectrometer", "tick")?;
//! let mut seen = 0;
//! while let Some(item) = ticks.next().await {
//!     match item {
//!         EventItem::Event(e) => {
//!             let n: u64 = e.value()?["n"].as_u64().unwrap_or_default();
//!             println!("#{} n={n}", e.seq());
//!             seen += 1;
//!         }
//!         EventItem::Lagged(dropped) => println!("{dropped} events dropped: read faster"),
//!         EventItem::Disconnected | EventItem::Reconnected => println!("{item:?}"),
//!     }
//!     if seen == 3 {
//!         break; // dropping `ticks` unsubscribes
//!     }
//! }
//! pool.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The pool must be built inside a tokio runtime (multi-thread or current-thread) with time
//! enabled. zeromq's runtime features are mutually exclusive, so this crate cannot be linked
//! into the same binary as `pool-async-std` or `pool-smol`.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

use std::future::Future;
use std::time::Instant;

pool_driver::adapter_api!(Tokio);

/// tokio as a [`pool_driver::Runtime`]: tasks and timers on the runtime the pool was built in.
#[derive(Clone, Debug)]
pub struct Tokio {
    handle: tokio::runtime::Handle,
}

impl Tokio {
    /// The runtime behind `handle`.
    #[must_use]
    pub fn new(handle: tokio::runtime::Handle) -> Tokio {
        Tokio { handle }
    }
}

impl Runtime for Tokio {
    // tokio's cooperative budget makes a task that is always ready yield every 128 operations.
    const YIELDS_BY_ITSELF: bool = true;

    type Sleep = tokio::time::Sleep;

    fn current() -> Option<Self> {
        tokio::runtime::Handle::try_current().ok().map(Tokio::new)
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(future));
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        // Timers need the runtime's context; the caller may be outside it.
        let _context = self.handle.enter();
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }
}
