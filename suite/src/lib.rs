//! The pool's behaviour, written once and proven on every runtime.
//!
//! * [`conformance`]: every behaviour of the pool against testkit servers (outcomes, deadlines,
//!   cancellation, fan-out, capacity, many servers, kill/restart, hostile servers, tcp and ipc),
//!   as generic async functions over a [`Harness`]. [`conformance_tests!`] turns them into one
//!   `#[test]` each for an adapter.
//! * [`interop`]: a live smoke test against a real hololinked 0.4.2 server.
//! * [`bench`](mod@bench): the round-trip benchmark (pool vs a raw zeromq DEALER on the same runtime).
//!
//! A [`Harness`] is a runtime adapter plus a way to block on a future. The suite names no
//! adapter: each adapter implements `Harness` in its own tests (`tests/harness/mod.rs`) and
//! instantiates the suite with it, so the arrows run one way, from the adapters' tests to the
//! suite. This crate's `tokio`, `async-std` and `smol` features only pick the zeromq runtime a
//! standalone build of the suite (its lint and docs) compiles against.
#![forbid(unsafe_code)]
#![allow(clippy::result_large_err)]

pub mod bench;
pub mod conformance;
mod harness;
pub mod interop;
mod servers;

pub use harness::{bounded, eventually, secs, sleep, spawn, within, Harness};
pub use pool_testkit::Transport;
pub use servers::{builder, endpoint, ready_pool, server};
