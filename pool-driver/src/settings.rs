//! The pool's fixed settings, decided when it is built and read by every task.
//!
//! A leaf: it names what the builder decided and nothing else; the checks that lead to these
//! values are the builder's, the endpoint syntax is `endpoint`'s.

use std::time::Duration;

use pool_core::wire::ServerContext;

/// What a pool does when every request slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Wait for a free slot, within the request's deadline (back-pressure).
    #[default]
    Wait,
    /// Fail at once with [`Error::Busy`](crate::Error::Busy).
    Busy,
}

/// The default [`PoolBuilder::max_reply_len`](crate::PoolBuilder::max_reply_len): 64 MiB.
pub(crate) const DEFAULT_MAX_REPLY_LEN: usize = 64 << 20;

/// The default [`PoolBuilder::event_queue_len`](crate::PoolBuilder::event_queue_len).
pub(crate) const DEFAULT_EVENT_QUEUE_LEN: usize = 1024;

/// The pool's fixed settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The DEALER identity and every header's `senderID`.
    pub(crate) client_id: String,
    /// The client deadline of a request that sets none (`None`: no deadline).
    pub(crate) request_timeout: Option<Duration>,
    /// The server-side limits sent with a request that sets none.
    pub(crate) server_context: ServerContext,
    pub(crate) when_full: WhenFull,
    /// How long one connection attempt may take.
    pub(crate) connect_timeout: Duration,
    /// Request slots.
    pub(crate) capacity: usize,
    /// The largest reply accepted, all frames together (and the largest event).
    pub(crate) max_reply_len: usize,
    /// Events a subscription holds for its consumer before it drops the oldest.
    pub(crate) event_queue_len: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            client_id: String::new(),
            request_timeout: Some(Duration::from_secs(30)),
            server_context: ServerContext::default(),
            when_full: WhenFull::default(),
            connect_timeout: Duration::from_secs(2),
            capacity: 4096,
            max_reply_len: DEFAULT_MAX_REPLY_LEN,
            event_queue_len: DEFAULT_EVENT_QUEUE_LEN,
        }
    }
}
