//! The in-process channels of a server's threads: a PULL socket its thread reads, PUSH sockets
//! that feed it (the handle's stop signal, a [`crate::TestServer`]'s workers' replies).
//!
//! Invariants:
//! * both ends have linger 0 and no high-water mark, so a send never blocks and never drops while
//!   the reader lives, and closing an end never holds up the context's termination;
//! * the stop signal is one message, sent at most once: the handle takes its PUSH socket out of
//!   its slot to send it, so a second stop (or drop after stop) sends nothing.

use std::sync::Mutex;

use crate::lock::lock;

/// The reading end, bound to `address` (bind it before any [`push`] connects).
pub(crate) fn pull(ctx: &zmq::Context, address: &str) -> Result<zmq::Socket, zmq::Error> {
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_linger(0)?;
    socket.set_rcvhwm(0)?;
    socket.bind(address)?;
    Ok(socket)
}

/// A writing end, connected to `address`.
pub(crate) fn push(ctx: &zmq::Context, address: &str) -> Result<zmq::Socket, zmq::Error> {
    let socket = ctx.socket(zmq::PUSH)?;
    socket.set_linger(0)?;
    socket.set_sndhwm(0)?;
    socket.connect(address)?;
    Ok(socket)
}

/// Sends the stop signal on the control socket in `slot`, if it is still there.
pub(crate) fn signal_stop(slot: &Mutex<Option<zmq::Socket>>) {
    if let Some(control) = lock(slot).take() {
        let _ = control.send("S", zmq::DONTWAIT);
    }
}
