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
}
