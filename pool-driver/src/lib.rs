//! The runtime-agnostic async driver of the hololinked client pool.
//!
//! It runs [`pool_core`]'s sans-IO state machine over zeromq DEALER sockets, one per server,
//! on any async runtime that implements the small [`Runtime`] trait (spawn, sleep, clock). The
//! runtime adapters (`pool-tokio`, ...) are this crate plus a `Runtime` implementation; the
//! public API — [`Pool`], [`Request`], [`Reply`], [`Error`] — is defined here, once.
//!
//! # Architecture
//!
//! Each file holds one piece; imports run one way, from the public façade down to the leaves:
//!
//! * `pool` and `pending`: the user-facing handle and the request future ([`Pending`]), which
//!   cancels its request when dropped; `builder` checks everything up front and builds both.
//! * `slot_wait`: the one wait for free request slots (a full pool), for a request and a
//!   fan-out alike, its deadline decided by the clock.
//! * `engine`: the core and the driver's records behind one short critical section, one method
//!   per input. Every input (a caller's command, a connection's message or loss, the timer)
//!   takes the lock, reads the clock once, feeds the core and drains its outputs before the
//!   lock is released.
//! * `connection`: one task per connection attempt, owning a zeromq `DealerSocket` (identity =
//!   client id). It selects over the outbox the core fills, the cancel-safe `recv()` and the
//!   socket monitor. zeromq's DEALER does not reconnect, so on a loss the task drops the
//!   socket and reports; the core schedules a fresh attempt after its backoff.
//! * `timer`: one task that gives the core its clock input at the next deadline.
//! * `subscription` (the public [`Subscription`] stream and its [`EventItem`]s) and
//!   `subscriber`: one task per server with subscriptions, owning a zeromq `SubSocket` on the
//!   server's event publisher, subscribed to the topics pool-core's `events::Subscriptions`
//!   wants; the engine's `events` part keeps both behind a lock of its own.
//! * `health`: what the log says of a server's connection and of its event publisher, one
//!   record per link: `warn` on a loss and on each new cause of failure, `debug` for repeats,
//!   `info` when ready again.
//! * `outcome` (a finished request as a [`Reply`] or an [`Error`]), `request`, `reply`,
//!   `error`, `settings`, `stats`, `endpoint`, `signal`, `preview` (how `Debug` cuts a
//!   payload short) and `runtime`: leaves. hololinked's
//!   exception payload is read by pool-core's
//!   `wire::RemoteException`, the one reader the examples and test fixtures use too.
//!
//! The engine reaches the connection and timer tasks only through the small traits those
//! files define (`LinkHost`, `TimerHost`), so neither knows the engine.
//!
//! # Debug and logging
//!
//! Every public type implements `Debug`: a [`Pool`] shows its client id and counts (servers,
//! ready ones, Things, requests in flight) without waiting for its lock, a [`Pending`] its
//! Thing, server and message id, and replies, events and requests show their payloads cut to
//! their first bytes. The pool logs through `tracing`: each request runs in a `debug` span
//! `request` with fields `thing`, `server`, `operation`, `objekt` and `message_id`; a
//! connection that fails or is lost is a `warn` naming the server, the endpoint and the cause
//! (once per cause while it stays down, repeats at `debug`), and a server ready again (or an
//! event publisher connected again) an `info`.
//!
//! # zeromq runtime features
//!
//! zeromq's runtime features are mutually exclusive: exactly one of `tokio-runtime` (the
//! default), `async-std-runtime` or `async-dispatcher-runtime` must be enabled in one build, so
//! two adapters cannot be linked into the same binary. With `async-dispatcher-runtime`,
//! `install_dispatcher` lets any executor run zeromq's tasks (the way to embed the pool in an
//! executor that none of the adapters covers).
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]
// docs.rs builds with the dispatcher runtime (Cargo.toml's `package.metadata.docs.rs`) and marks
// what only that feature provides.
#![cfg_attr(docsrs, feature(doc_cfg))]
// `Error` names the Thing, server and message id as owned strings, which makes it larger than
// clippy likes; errors are the slow path and results travel once, so clarity wins.
#![allow(clippy::result_large_err)]

mod builder;
mod connection;
mod description;
#[cfg(feature = "async-dispatcher-runtime")]
mod dispatch;
mod endpoint;
mod engine;
mod error;
mod execution_log;
mod health;
mod outcome;
mod pending;
mod pool;
mod preview;
mod reply;
mod request;
mod runtime;
mod server_info;
mod settings;
mod signal;
mod slot_wait;
mod stats;
mod subscriber;
mod subscription;
mod thing;
mod timer;

pub use builder::PoolBuilder;
pub use description::{
    ActionAffordance, DataSchema, EventAffordance, Form, PropertyAffordance, ThingDescription,
};
pub use endpoint::{
    hololinked_event_endpoint, hololinked_ipc_endpoint, hololinked_ipc_filename, MAX_IPC_PATH_LEN,
};
pub use error::{AffordanceKind, Error, TimeoutKind};
pub use execution_log::ExecutionLog;
pub use pending::Pending;
pub use pool::Pool;
pub use reply::Reply;
pub use request::{operation, Request};
pub use runtime::Runtime;
pub use server_info::{Protocol, ServerInfo};
pub use settings::WhenFull;
pub use stats::PoolStats;
pub use subscription::{Event, EventItem, Subscription};
pub use thing::{Thing, GET_THING_DESCRIPTION};

#[cfg(feature = "async-dispatcher-runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-dispatcher-runtime")))]
pub use dispatch::install_dispatcher;

pub use pool_core;
pub use pool_core::pool::Stats;
pub use pool_core::wire::KeyStyle;

/// The public API of a runtime adapter, written once: re-exports the driver's types and defines
/// `Pool`, `PoolBuilder` and `Pending` for the runtime `$rt`. Each adapter crate is its
/// [`Runtime`] implementation plus one call of this macro.
#[macro_export]
macro_rules! adapter_api {
    ($rt:ty) => {
        pub use $crate::{
            hololinked_event_endpoint, hololinked_ipc_endpoint, hololinked_ipc_filename, operation,
            pool_core, ActionAffordance, AffordanceKind, DataSchema, Error, Event, EventAffordance,
            EventItem, ExecutionLog, Form, KeyStyle, PoolStats, PropertyAffordance, Protocol,
            Reply, Request, Runtime, ServerInfo, Stats, Subscription, ThingDescription,
            TimeoutKind, WhenFull, GET_THING_DESCRIPTION,
        };

        /// The pool on this crate's runtime (see [`pool_driver::Pool`] for every method).
        pub type Pool = $crate::Pool<$rt>;
        /// The pool's builder (see [`pool_driver::PoolBuilder`]).
        pub type PoolBuilder = $crate::PoolBuilder<$rt>;
        /// A request in progress (await it; drop it to cancel).
        pub type Pending = $crate::Pending<$rt>;
        /// A handle on one Thing of the pool (see [`pool_driver::Thing`]).
        pub type Thing = $crate::Thing<$rt>;
    };
}
