//! The pool under test and what the model and the driver share about it: its fixed capacity,
//! its `Config` (timings the model predicts to the microsecond), the request value and the
//! reply header a hololinked server writes.
//!
//! Invariants:
//! * one source for every number: the model (`reference.rs`), the driver (`sut.rs`) and the
//!   hand-written tests (`main.rs`) read the capacity and timings from these constants and the
//!   pool from `new_pool()`, so model and pool cannot disagree on configuration;
//! * `backoff_jitter` is off: every reconnect time is exact, so the model can predict
//!   `poll_timeout` exactly (the jitter has its own unit tests in the crate);
//! * a request value carries a serial unique per case (its index in the model's request list),
//!   so every completion can be traced back to the start that made it.

use pool_core::pool::{Config, FixedMemory, Pool, RequestSpec};
use pool_core::wire::RequestFields;
use pool_core::Duration;

pub(crate) const SLOTS: usize = 8;
pub(crate) const SERVERS: usize = 3;
pub(crate) const THINGS: usize = 4;
pub(crate) const FANOUTS: usize = 2;

pub(crate) const NONCE: u64 = 0x5eed;
pub(crate) const OTHER_NONCE: u64 = 0x0bad_5eed;
pub(crate) const CLIENT: &str = "model-client";

pub(crate) const MS: u64 = 1_000;
pub(crate) const HANDSHAKE_INTERVAL: u64 = 500 * MS;
pub(crate) const HANDSHAKE_TIMEOUT: u64 = 1_200 * MS;
pub(crate) const BACKOFF_MIN: u64 = 100 * MS;
pub(crate) const BACKOFF_MAX: u64 = 5_000 * MS;
/// Small, so the per-server in-flight limit binds often.
pub(crate) const IN_FLIGHT_CAP: usize = 2;
/// Short against the model's clock moves, so liveness probes (of idle and busy servers) and
/// their losses happen.
pub(crate) const LIVENESS: u64 = 2_000 * MS;
pub(crate) const PROBE_TIMEOUT: u64 = 700 * MS;

pub(crate) type Mem = FixedMemory<Req, SLOTS, SERVERS, THINGS, FANOUTS>;

pub(crate) fn pool_config() -> Config {
    Config {
        handshake_interval: Duration::from_micros(HANDSHAKE_INTERVAL),
        handshake_timeout: Some(Duration::from_micros(HANDSHAKE_TIMEOUT)),
        backoff_min: Duration::from_micros(BACKOFF_MIN),
        backoff_max: Duration::from_micros(BACKOFF_MAX),
        max_in_flight_per_server: IN_FLIGHT_CAP as u32,
        liveness_interval: Some(Duration::from_micros(LIVENESS)),
        liveness_timeout: Duration::from_micros(PROBE_TIMEOUT),
        // The model predicts every reconnect time exactly; the jitter has its own unit tests.
        backoff_jitter: false,
        ..Config::default()
    }
}

pub(crate) fn new_pool() -> Pool<Req, Mem> {
    Pool::new(pool_config(), CLIENT, NONCE, FixedMemory::new()).expect("valid client id")
}

/// The identity of the model's `index`-th server.
pub(crate) fn identity(index: usize) -> String {
    format!("srv-{index}")
}

/// The request value: a unique serial, so every completion can be traced to its start.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) serial: usize,
    pub(crate) objekt: String,
}

impl Req {
    pub(crate) fn new(serial: usize) -> Self {
        Req {
            serial,
            objekt: format!("prop{serial}"),
        }
    }
}

impl RequestSpec for Req {
    fn fields(&self) -> RequestFields<'_> {
        RequestFields::new("thing", "readproperty", &self.objekt)
    }
}

/// A reply header as a hololinked server writes it.
pub(crate) fn reply_header(kind: &str, id: &str) -> String {
    format!(
        r#"{{"messageType":"{kind}","messageID":"{id}","receiverID":"{CLIENT}","senderID":"srv"}}"#
    )
}
