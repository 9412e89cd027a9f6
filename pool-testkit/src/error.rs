//! What can go wrong when a testkit server or farm starts.

/// Errors from starting or restarting a [`crate::TestServer`] or starting a [`crate::ServerFarm`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A libzmq call failed.
    #[error("zeromq error: {0}")]
    Zmq(#[from] zmq::Error),
    /// Binding an endpoint failed.
    #[error("cannot bind {endpoint}: {source}")]
    Bind {
        /// The endpoint that could not be bound.
        endpoint: String,
        /// The libzmq error.
        source: zmq::Error,
    },
    /// Binding the event publisher (PUB socket) failed: over tcp it needs the request
    /// endpoint's port + 1, which another socket may hold.
    #[error("cannot bind the event publisher at {endpoint} (the request endpoint's tcp port + 1, or its ipc directory): {source}")]
    EventBind {
        /// The publisher endpoint that could not be bound.
        endpoint: String,
        /// The libzmq error.
        source: zmq::Error,
    },
    /// Creating the temporary directory or a thread failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}
