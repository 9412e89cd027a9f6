//! What a pool counts: the driver's own counters, and the snapshot a caller reads.
//!
//! The core counts requests and messages; the driver counts what only the transport sees
//! (connection attempts, receive errors, stale and oversized messages, writes). Counters are
//! relaxed atomics: each is exact on its own, a snapshot is not one instant.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and gauges of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The core's counters: requests started and ended by outcome, messages sent, dropped
    /// replies by reason, malformed messages, servers lost.
    pub requests: pool_core::pool::Stats,
    /// Requests started and not yet ended.
    pub in_flight: usize,
    /// Request slots in total.
    pub capacity: usize,
    /// Servers configured.
    pub servers: usize,
    /// Servers that answered a HANDSHAKE on their current connection.
    pub servers_ready: usize,
    /// Connection attempts started.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Harmless receive errors on live connections: ZMTP commands zeromq does not know (such
    /// as a heartbeat PING), ignored.
    pub recv_errors: u64,
    /// Connections lost to a protocol violation or a broken stream: a message over the size or
    /// frame limit, undecodable bytes, a stream cut inside a frame, a receive I/O error.
    pub protocol_errors: u64,
    /// Messages that arrived on a connection the pool had already given up.
    pub stale_messages: u64,
    /// Replies over `PoolBuilder::max_reply_len` (dropped; their requests ended
    /// `ReplyTooLarge`).
    pub oversized_replies: u64,
    /// Requests handed to their connection's socket (`requests.requests_sent` counts them
    /// when the core hands them to the connection task, a step earlier). A request written is
    /// on its way: if the connection breaks now it ends `Disconnected`; one not yet written
    /// goes out again after the reconnect.
    pub requests_written: u64,
    /// The event subscriptions' counters: events received, delivered, dropped for lag,
    /// malformed or unmatched, publishers lost.
    pub events: pool_core::events::EventStats,
    /// Event subscriptions that exist now.
    pub subscriptions: usize,
    /// Publisher links opened (one per server while it has subscriptions).
    pub publisher_links: u64,
    /// Publisher connections lost to a protocol violation (an event over the size or frame
    /// limit, undecodable bytes, a stream cut inside a frame).
    pub event_protocol_errors: u64,
}

/// One driver counter.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The driver's counters (what the core cannot see).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) connects: Counter,
    pub(crate) connect_failures: Counter,
    pub(crate) recv_errors: Counter,
    pub(crate) protocol_errors: Counter,
    pub(crate) stale_messages: Counter,
    pub(crate) oversized_replies: Counter,
    pub(crate) requests_written: Counter,
    pub(crate) publisher_connects: Counter,
    pub(crate) event_protocol_errors: Counter,
}
