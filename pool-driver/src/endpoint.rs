//! Endpoint checks and hololinked's default IPC address.

use std::path::PathBuf;

use crate::error::Error;

pub use pool_core::wire::hololinked_ipc_filename;

/// Longest path a Unix domain socket accepts on Linux (`sun_path` is 108 bytes with the NUL).
pub const MAX_IPC_PATH_LEN: usize = 107;

/// Checks an endpoint string: [`Error::InvalidEndpoint`] says why it cannot be used.
pub(crate) fn checked_endpoint(endpoint: &str) -> Result<(), Error> {
    check_endpoint(endpoint).map_err(|reason| Error::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason,
    })
}

/// Why an endpoint string cannot be used.
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        if path.is_empty() {
            return Err("an ipc endpoint needs a path, as in ipc:///tmp/server.ipc".into());
        }
        if path.len() > MAX_IPC_PATH_LEN {
            return Err(format!(
                "the ipc path is {} bytes long; Unix sockets allow at most {MAX_IPC_PATH_LEN}",
                path.len()
            ));
        }
        return Ok(());
    }
    if let Some(address) = endpoint.strip_prefix("tcp://") {
        let (host, port) = address
            .rsplit_once(':')
            .ok_or("a tcp endpoint needs a port, as in tcp://127.0.0.1:5555")?;
        if host.is_empty() || host == "*" {
            return Err(
                "a tcp endpoint needs a host to connect to, as in tcp://127.0.0.1:5555".into(),
            );
        }
        match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("`{port}` is not a tcp port (1-65535)")),
            Ok(_) => {}
        }
        return Ok(());
    }
    Err(
        "the endpoint must start with tcp:// or ipc:// (inproc is not available to a Rust client)"
            .into(),
    )
}

/// The IPC endpoint a hololinked server with id `server_id` binds by default:
/// `ipc://$HOME/.hololinked/sockets/<sanitized id>.ipc`. `None` if `$HOME` is not set.
///
/// ```
/// let endpoint = pool_driver::hololinked_ipc_endpoint("spectrometer");
/// if let Some(endpoint) = endpoint {
///     assert!(endpoint.starts_with("ipc://"));
///     assert!(endpoint.ends_with("/.hololinked/sockets/spectrometer.ipc"));
/// }
/// ```
#[must_use]
pub fn hololinked_ipc_endpoint(server_id: &str) -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let path: PathBuf = [
        PathBuf::from(home),
        PathBuf::from(".hololinked"),
        PathBuf::from("sockets"),
        PathBuf::from(hololinked_ipc_filename(server_id)),
    ]
    .iter()
    .collect();
    Some(format!("ipc://{}", path.display()))
}

/// The endpoint of the event publisher of hololinked server `server_id` whose requests go to
/// `endpoint`, by hololinked's convention (docs/protocol.md §17): over tcp the next port, over
/// ipc `<server id>.event-publisher.ipc` (sanitized as hololinked does) in the same directory.
/// `None` for an endpoint it does not follow from (a tcp port of 65535, another transport).
///
/// ```
/// use pool_driver::hololinked_event_endpoint;
/// assert_eq!(
///     hololinked_event_endpoint("spectrometer", "tcp://127.0.0.1:5555").as_deref(),
///     Some("tcp://127.0.0.1:5556")
/// );
/// assert_eq!(
///     hololinked_event_endpoint("spectrometer", "ipc:///run/spectrometer.ipc").as_deref(),
///     Some("ipc:///run/spectrometer.event-publisher.ipc")
/// );
/// ```
#[must_use]
pub fn hololinked_event_endpoint(server_id: &str, endpoint: &str) -> Option<String> {
    if let Some(address) = endpoint.strip_prefix("tcp://") {
        let (host, port) = address.rsplit_once(':')?;
        let next = port.parse::<u16>().ok()?.checked_add(1)?;
        return Some(format!("tcp://{host}:{next}"));
    }
    let path = endpoint.strip_prefix("ipc://")?;
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let file = hololinked_ipc_filename(&format!("{server_id}/event-publisher"));
    Some(if dir.is_empty() && !path.starts_with('/') {
        format!("ipc://{file}")
    } else {
        format!("ipc://{dir}/{file}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_endpoints() {
        assert!(check_endpoint("tcp://127.0.0.1:5555").is_ok());
        assert!(check_endpoint("tcp://localhost:1").is_ok());
        assert!(check_endpoint("ipc:///tmp/x.ipc").is_ok());
        for bad in [
            "",
            "127.0.0.1:5555",
            "tcp://127.0.0.1",
            "tcp://:5555",
            "tcp://*:5555",
            "tcp://host:0",
            "tcp://host:70000",
            "tcp://host:port",
            "ipc://",
            "inproc://x",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
        let long = format!("ipc:///{}", "x".repeat(200));
        assert!(check_endpoint(&long).unwrap_err().contains("107"));
    }

    #[test]
    fn event_endpoints_follow_hololinked() {
        let ev = |id, e| hololinked_event_endpoint(id, e);
        assert_eq!(
            ev("s", "tcp://[::1]:7000").as_deref(),
            Some("tcp://[::1]:7001")
        );
        assert_eq!(ev("s", "tcp://h:65535"), None);
        assert_eq!(
            ev("a:b", "ipc:///t/a_b.ipc").as_deref(),
            Some("ipc:///t/a_b.event-publisher.ipc")
        );
        assert_eq!(
            ev("s", "ipc://s.ipc").as_deref(),
            Some("ipc://s.event-publisher.ipc")
        );
        assert_eq!(ev("s", "inproc://s"), None);
    }
}
