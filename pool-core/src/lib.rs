//! # pool-core
//!
//! The sans-IO, `#![no_std]` heart of mmpool: a message-mapped request pool for hololinked
//! servers over ZeroMQ, plus the hololinked wire codec.
//!
//! * [`pool::Pool`]: the state machine. It owns message ids, waiters (the caller's request
//!   values), client deadlines, cancellation, each server's handshake / readiness / backoff, the
//!   Thing → server map and fan-out. **It never reads a clock** (time is an [`Instant`] input)
//!   nor an OS RNG (its only randomness, the reconnect jitter, comes from a [`SplitMix64`]
//!   stream seeded with the nonce the adapter gives it), never performs I/O, never allocates after creation and
//!   never panics on any input.
//! * [`wire`]: hololinked's ZMQ frames: request headers written into a caller buffer, reply
//!   headers read tolerantly. Byte-exact against headers captured from live servers.
//! * [`events`] (with `alloc`): event subscriptions: the topics wanted from each publisher,
//!   bounded per-subscription queues with lag counts, and what a publisher's loss means.
//! * [`codec`]: postcard, the compact binary payload codec for Rust and embedded peers.
//! * [`id`]: UUID-shaped message ids carrying slot, generation and a per-pool nonce.
//! * [`SplitMix64`]: the seeded pseudorandom stream the reconnect jitter draws from, public so
//!   that tests and simulations draw from the same one.
//!
//! ## The run loop a driver implements
//!
//! ```text
//! loop {
//!     wait for: a message on any server's DEALER, an application command,
//!               a transport event (connected / disconnected / send failed),
//!               or the timer armed at pool.poll_timeout()
//!     now = clock()
//!     feed it:  pool.handle_message(server, frames, now) → Routed::Completed(c) → wake c.user
//!               pool.start_request / cancel / add_server ...
//!               pool.handle_connected / handle_disconnected / handle_send_failed
//!               pool.handle_timeout(now)
//!     drain:    while let Some(tx) = pool.poll_transmit(&mut buf) { send [b"", tx.header, payload, pre] }
//!               while let Some(ev) = pool.poll_event() { Connect → open a fresh DEALER;
//!                                                        Completed(c) → wake c.user; ... }
//!     re-arm the timer at pool.poll_timeout()
//! }
//! ```
//!
//! A complete, runnable exchange is in the [`pool::Pool`] documentation.
//!
//! ## Features
//!
//! * no features: fixed capacity ([`pool::FixedMemory`]), no heap, builds for
//!   `thumbv7em-none-eabihf`;
//! * `alloc`: capacity chosen at run time ([`pool::HeapMemory`]), `codec::to_vec`;
//! * `std` (default): conversions from and to `std::time::Duration`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod codec;
#[cfg(feature = "alloc")]
pub mod events;
pub mod id;
pub mod pool;
mod rng;
pub mod time;
pub mod wire;

pub use id::{IdCodec, MessageIdText, MESSAGE_ID_LEN};
pub use rng::SplitMix64;

pub use time::{Duration, Instant};
