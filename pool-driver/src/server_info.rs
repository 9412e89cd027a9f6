//! What the pool knows of one server: where it is, over which protocol, whether it is ready,
//! which Things it serves and why its last connection failed.

/// The transport of a server's endpoint, as hololinked names it (the `protocol` of
/// `get_thing_description`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `tcp://host:port`.
    Tcp,
    /// `ipc://path`.
    Ipc,
    /// `inproc://name` (in the same process).
    Inproc,
}

impl Protocol {
    /// The protocol of `endpoint`, by its scheme.
    ///
    /// ```
    /// use pool_driver::Protocol;
    /// assert_eq!(Protocol::of("ipc:///tmp/x.ipc"), Some(Protocol::Ipc));
    /// assert_eq!(Protocol::of("tcp://127.0.0.1:5555").unwrap().as_str(), "TCP");
    /// assert_eq!(Protocol::of("udp://x"), None);
    /// ```
    #[must_use]
    pub fn of(endpoint: &str) -> Option<Protocol> {
        let (scheme, _) = endpoint.split_once("://")?;
        match scheme {
            "tcp" => Some(Protocol::Tcp),
            "ipc" => Some(Protocol::Ipc),
            "inproc" => Some(Protocol::Inproc),
            _ => None,
        }
    }

    /// hololinked's name: `TCP`, `IPC` or `INPROC`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Ipc => "IPC",
            Protocol::Inproc => "INPROC",
        }
    }
}

/// One server of the pool, as [`Pool::server_info`](crate::Pool::server_info) and
/// [`Pool::server_of`](crate::Pool::server_of) report it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server id (its ROUTER identity).
    pub id: String,
    /// Its endpoint.
    pub endpoint: String,
    /// The endpoint's protocol.
    pub protocol: Protocol,
    /// It answered a HANDSHAKE on its current connection.
    pub ready: bool,
    /// The Things the pool sends to it, sorted.
    pub things: Vec<String>,
    /// Why its last connection ended or its last connect failed, while it is not ready.
    pub last_error: Option<String>,
}
