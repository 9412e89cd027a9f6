//! Test support for the end-to-end and live-interop suites of the pool.
//!
//! * [`python`]: spawn REAL hololinked servers (0.4.2 and 0.3.12) as subprocesses over tcp or ipc, wait for
//!   readiness, kill and restart them. Needs the venvs from `bash scripts/python-venvs.sh`.
//! * [`raw`]: a raw hololinked client on one `zmq` DEALER socket (hand-built frames, recv timeouts).
#![forbid(unsafe_code)]

pub mod python;
pub mod raw;
