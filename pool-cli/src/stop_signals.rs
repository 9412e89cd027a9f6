//! The signals that stop a long-running subcommand (`serve`, `watch`) cleanly: SIGINT (Ctrl-C)
//! and SIGTERM on Unix, Ctrl-C on Windows.
//!
//! Invariant: the handlers are installed when [`StopSignals::listen`] returns, not when
//! [`StopSignals::recv`] is first awaited, so a signal that comes right after (a parent that
//! stops `serve` as soon as it read the READY lines) ends the command cleanly instead of
//! killing the process.

use std::io;

/// Installed stop-signal handlers.
#[derive(Debug)]
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl StopSignals {
    /// Installs the handlers (on a tokio runtime with signals enabled).
    #[cfg(unix)]
    pub fn listen() -> io::Result<StopSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Installs the handler (on a tokio runtime with signals enabled).
    #[cfg(windows)]
    pub fn listen() -> io::Result<StopSignals> {
        Ok(StopSignals {
            ctrl_c: tokio::signal::windows::ctrl_c()?,
        })
    }

    /// Waits for the next stop signal.
    #[cfg(unix)]
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    /// Waits for the next Ctrl-C.
    #[cfg(windows)]
    pub async fn recv(&mut self) {
        self.ctrl_c.recv().await;
    }
}
