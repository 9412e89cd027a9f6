//! Pool configuration.

use crate::time::Duration;
use crate::wire::KeyStyle;
use crate::SplitMix64;

/// Longest HANDSHAKE resend interval: hololinked's own client resends every 500 ms, and a
/// ROUTER drops messages to a peer whose ZMTP handshake has not finished (docs/protocol.md §10,
/// handshake and readiness).
pub const MAX_HANDSHAKE_INTERVAL: Duration = Duration::from_millis(500);

/// How the pool behaves; every field has a sensible default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// HANDSHAKE resend interval while a server is handshaking (clamped to at most 500 ms).
    pub handshake_interval: Duration,
    /// Give up a handshake after this long, treat the server as lost and reconnect after the
    /// backoff. `None`: keep handshaking for as long as the connection stays up.
    pub handshake_timeout: Option<Duration>,
    /// First reconnect delay after a server is lost (before jitter): the delay doubles with
    /// every loss that follows without the server becoming ready in between.
    pub backoff_min: Duration,
    /// Cap of the exponential reconnect delay (before jitter).
    pub backoff_max: Duration,
    /// Equal jitter on reconnect delays: each time a server is lost, the delay is drawn
    /// uniformly from `[d/2, d]`, where `d` is the exponential delay of `backoff_min` and
    /// `backoff_max`. Without it every client of a restarted server would reconnect in
    /// lockstep. The draws come from a small PRNG seeded with the pool's nonce (the core reads
    /// no clock and no OS RNG), so pools with different nonces spread out and a run replays
    /// exactly. `false`: exactly `d`.
    pub backoff_jitter: bool,
    /// Spelling of the execution-context keys in request headers.
    pub key_style: KeyStyle,
    /// Longest request header the pool will write; `poll_transmit` needs a buffer this large.
    /// Requests whose header would be longer are refused when they start.
    pub max_header_len: usize,
    /// Most requests in flight (sent, unanswered) to one server; more wait in the pool's queue.
    ///
    /// hololinked servers are libzmq ROUTERs with the default send high-water mark (1000
    /// messages per client) and without `ROUTER_MANDATORY`, so a reply that finds the client's
    /// pipe full is dropped silently. libzmq credits the reader only every 500 messages, so
    /// with more than about 500 replies outstanding a fast server can fill the pipe while the
    /// client is reading. The default of 500 keeps every reply deliverable. Values below 1
    /// count as 1.
    pub max_in_flight_per_server: u32,
    /// Liveness probe: when nothing has come from a ready server for this long, the pool sends
    /// it a HANDSHAKE, whether or not requests are in flight to it. `None` turns probing off.
    ///
    /// A connection can die without a word (a vanished TCP peer, a half-open connection, a
    /// frozen process) and ZeroMQ (zmq.rs has no ZMTP heartbeats) would not notice: without
    /// the probe a request made without a deadline would wait forever. Anything well-formed
    /// from the server (a reply to any request, the HANDSHAKE answer) counts as a sign of life,
    /// so a server that keeps answering is never probed.
    ///
    /// hololinked 0.3 and 0.4 servers answer a HANDSHAKE while a Thing runs a blocking action
    /// (checked live: the answer came at once with a 4 s action running). A server that runs
    /// one long action and cannot answer a HANDSHAKE meanwhile (a single-threaded server) is
    /// lost after `liveness_interval + liveness_timeout` of silence,
    /// and its requests in flight end `Disconnected`. For such servers set a `liveness_timeout`
    /// longer than the longest action, or turn probing off and bound requests by deadlines.
    pub liveness_interval: Option<Duration>,
    /// How long a liveness probe may go unanswered (nothing at all received from the server)
    /// before the server counts as lost
    /// ([`LostReason::Unresponsive`](super::LostReason::Unresponsive)): its requests in flight
    /// end `Disconnected`, and it is reconnected after the backoff.
    pub liveness_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            handshake_interval: MAX_HANDSHAKE_INTERVAL,
            handshake_timeout: None,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            backoff_jitter: true,
            key_style: KeyStyle::Both,
            max_header_len: 4096,
            max_in_flight_per_server: 500,
            liveness_interval: Some(Duration::from_secs(10)),
            liveness_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    pub(crate) fn effective_handshake_interval(&self) -> Duration {
        // Zero would resend on every timeout call; keep it positive and within the 500 ms cap.
        self.handshake_interval
            .clamp(Duration::from_micros(1), MAX_HANDSHAKE_INTERVAL)
    }

    pub(crate) fn effective_max_in_flight_per_server(&self) -> u32 {
        self.max_in_flight_per_server.max(1)
    }

    /// The exponential reconnect delay after `attempt` losses in a row, before jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_min
            .doubled(attempt, self.backoff_max.max(self.backoff_min))
    }

    /// The reconnect delay after `attempt` losses in a row: [`Self::backoff`], or with
    /// `backoff_jitter` a draw from `rng` in `[ceil(d/2), d]` (never less than half of it).
    pub(crate) fn reconnect_delay(&self, attempt: u32, rng: &mut SplitMix64) -> Duration {
        let full = self.backoff(attempt).as_micros();
        if !self.backoff_jitter {
            return Duration::from_micros(full);
        }
        Duration::from_micros(rng.range(full - full / 2, full))
    }
}
