//! Counters the pool keeps; they only grow (wrapping at u64).

/// Everything the pool counted since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests started (fan-out members included).
    pub started: u64,
    /// Requests ended, by any outcome. `started - ended` is the number in flight.
    pub ended: u64,
    /// Outcomes `Reply`.
    pub replies: u64,
    /// Outcomes `Exception`.
    pub exceptions: u64,
    /// Outcomes `InvalidMessage`.
    pub invalid_messages: u64,
    /// Outcomes `ServerTimeout`.
    pub server_timeouts: u64,
    /// Outcomes `Timeout` (client deadline).
    pub timeouts: u64,
    /// Outcomes `Cancelled`.
    pub cancelled: u64,
    /// Outcomes `Disconnected`.
    pub disconnected: u64,
    /// Outcomes `Closed`.
    pub closed: u64,
    /// Outcomes `Sent` (oneway).
    pub oneway_sent: u64,
    /// Outcomes `Unsendable`.
    pub unsendable: u64,
    /// Requests refused at start (full, unknown Thing, header too large).
    pub refused: u64,
    /// Request transmits produced.
    pub requests_sent: u64,
    /// HANDSHAKE transmits produced.
    pub handshakes_sent: u64,
    /// HANDSHAKE replies received (including duplicates and late ones).
    pub handshake_replies: u64,
    /// Messages dropped as foreign (not this pool's id).
    pub dropped_foreign: u64,
    /// Messages dropped as late, duplicate or unsolicited.
    pub dropped_late: u64,
    /// Messages dropped because they came from the wrong server.
    pub dropped_wrong_server: u64,
    /// Messages dropped because their server no longer exists.
    pub dropped_unknown_server: u64,
    /// Malformed messages (wrong frame count, bad JSON, unknown type...).
    pub malformed: u64,
    /// Times a server was lost.
    pub servers_lost: u64,
    /// Liveness probes sent: HANDSHAKEs to ready servers quiet for `Config::liveness_interval`,
    /// with or without requests in flight (also counted in `handshakes_sent`).
    pub liveness_probes: u64,
}

impl Stats {
    /// All dropped and malformed messages together.
    #[must_use]
    pub fn dropped_total(&self) -> u64 {
        self.dropped_foreign
            .wrapping_add(self.dropped_late)
            .wrapping_add(self.dropped_wrong_server)
            .wrapping_add(self.dropped_unknown_server)
            .wrapping_add(self.malformed)
    }
}
