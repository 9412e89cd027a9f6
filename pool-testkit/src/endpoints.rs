//! A server's endpoints and its ROUTER socket, shared by [`crate::TestServer`] and
//! [`crate::ServerFarm`].

use std::path::PathBuf;

use crate::config::{sanitized_ipc_filename, Bind, ServerConfig};
use crate::error::Error;

/// What one server binds, with the temporary directory of its `Bind::Ipc` socket.
pub(crate) struct Endpoints {
    /// In `config.transports` order; tcp ports are concrete once [`open_router`] bound them.
    pub endpoints: Vec<String>,
    /// The directory of a `Bind::Ipc` socket, removed on drop.
    pub ipc_dir: Option<tempfile::TempDir>,
    /// The filesystem path of the (last) ipc socket.
    pub ipc_path: Option<PathBuf>,
}

impl Endpoints {
    /// The endpoints of `config` (tcp ports still as configured, e.g. `:0`); creates the
    /// temporary directory of a `Bind::Ipc`.
    pub(crate) fn of(config: &ServerConfig) -> Result<Endpoints, Error> {
        let mut out = Endpoints {
            endpoints: Vec::new(),
            ipc_dir: None,
            ipc_path: None,
        };
        for transport in &config.transports {
            match transport {
                Bind::Tcp(endpoint) => out.endpoints.push(endpoint.clone()),
                Bind::Ipc => {
                    let dir = tempfile::Builder::new().prefix("pool-testkit-").tempdir()?;
                    let path = dir.path().join(sanitized_ipc_filename(&config.server_id));
                    out.endpoints.push(format!("ipc://{}", path.display()));
                    out.ipc_path = Some(path);
                    out.ipc_dir = Some(dir);
                }
                Bind::IpcAt(path) => {
                    out.endpoints.push(format!("ipc://{}", path.display()));
                    out.ipc_path = Some(path.clone());
                }
            }
        }
        Ok(out)
    }

    /// The first tcp endpoint, if any.
    pub(crate) fn tcp_endpoint(&self) -> Option<&str> {
        self.first_on("tcp://")
    }

    /// The first ipc endpoint, if any.
    pub(crate) fn ipc_endpoint(&self) -> Option<&str> {
        self.first_on("ipc://")
    }

    fn first_on(&self, scheme: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.starts_with(scheme))
            .map(String::as_str)
    }

    /// Puts back the configured port 0 of every tcp endpoint that had one (bound since to a port
    /// the OS chose), so the next bind picks new ports; false when there was none.
    pub(crate) fn reset_any_ports(&mut self, config: &ServerConfig) -> bool {
        let mut any = false;
        for (bind, endpoint) in config.transports.iter().zip(&mut self.endpoints) {
            if let Bind::Tcp(configured) = bind {
                if configured.ends_with(":0") {
                    endpoint.clone_from(configured);
                    any = true;
                }
            }
        }
        any
    }

    /// Removes the ipc socket file and the temporary directory, if any.
    pub(crate) fn remove_ipc(&mut self) {
        if let Some(path) = &self.ipc_path {
            let _ = std::fs::remove_file(path);
        }
        if let Some(dir) = self.ipc_dir.take() {
            let _ = dir.close();
        }
    }
}

/// A ROUTER socket of `ctx` as a hololinked server has it (identity = server id, handover off,
/// linger 0, the configured send high-water mark), bound to every endpoint; a tcp endpoint's
/// port 0 is replaced by the port the OS chose.
pub(crate) fn open_router(
    ctx: &zmq::Context,
    config: &ServerConfig,
    endpoints: &mut [String],
) -> Result<zmq::Socket, Error> {
    let router = ctx.socket(zmq::ROUTER)?;
    router.set_identity(config.server_id.as_bytes())?;
    router.set_router_handover(false)?;
    router.set_linger(0)?;
    router.set_sndhwm(config.send_hwm)?;
    for endpoint in endpoints {
        router.bind(endpoint).map_err(|source| Error::Bind {
            endpoint: endpoint.clone(),
            source,
        })?;
        if endpoint.starts_with("tcp://") {
            if let Ok(Ok(actual)) = router.get_last_endpoint() {
                *endpoint = actual;
            }
        }
    }
    Ok(router)
}
