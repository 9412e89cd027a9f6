//! # pool-core
//!
//! The sans-IO, `#![no_std]` heart of mmpool: a message-mapped request pool for hololinked
//! servers over ZeroMQ, plus the hololinked wire codec.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod codec;
pub mod id;
pub mod pool;
pub mod time;
pub mod wire;

pub use id::{IdCodec, MessageIdText, MESSAGE_ID_LEN};
pub use time::{Duration, Instant};
