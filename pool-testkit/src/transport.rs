//! Which transport a test, a benchmark or a server runs over: the one such enum of the project's
//! tests and benches. Where exactly a server binds is a [`crate::Bind`].

use std::fmt;
use std::str::FromStr;

use crate::config::Bind;

/// TCP on the loopback interface or IPC in a temporary directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `tcp://127.0.0.1:<port>`.
    Tcp,
    /// `ipc://<path>` in a temporary directory.
    Ipc,
}

impl Transport {
    /// Both, for what runs over each.
    pub const ALL: [Transport; 2] = [Transport::Tcp, Transport::Ipc];

    /// `"tcp"` or `"ipc"`, the endpoint scheme.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
        }
    }

    /// Where a testkit server binds for this transport: any free loopback port, or a socket in
    /// a temporary directory of its own.
    pub fn bind(self) -> Bind {
        match self {
            Transport::Tcp => Bind::Tcp("tcp://127.0.0.1:0".to_owned()),
            Transport::Ipc => Bind::Ipc,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Transport {
    type Err = String;

    /// `tcp` or `ipc`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Transport::Tcp),
            "ipc" => Ok(Transport::Ipc),
            _ => Err(format!("unknown transport {s:?}: tcp or ipc")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bind_where_expected() {
        for t in Transport::ALL {
            assert_eq!(t.name().parse::<Transport>(), Ok(t));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!("TCP".parse::<Transport>(), Ok(Transport::Tcp));
        assert!("udp"
            .parse::<Transport>()
            .unwrap_err()
            .contains("tcp or ipc"));
        assert_eq!(Transport::Ipc.bind(), Bind::Ipc);
        assert_eq!(
            Transport::Tcp.bind(),
            Bind::Tcp("tcp://127.0.0.1:0".to_owned())
        );
    }
}
