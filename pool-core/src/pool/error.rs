//! Errors of the pool's commands. Every one says what was wrong; none is a panic.

use core::fmt;

/// Why a server could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddServerError {
    /// The server table is full.
    Full,
    /// ZeroMQ identities are 1 to 255 bytes and must not start with a NUL byte.
    InvalidIdentity,
}

/// Why a Thing could not be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapThingError {
    /// The Thing table is full.
    Full,
    /// The server handle refers to no server.
    UnknownServer,
}

/// Why a request (or fan-out) could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartErrorKind {
    /// Every request slot (or fan-out entry) is in use.
    Full,
    /// The Thing handle refers to no mapped Thing.
    UnknownThing,
    /// The request header would be longer than `Config::max_header_len`.
    HeaderTooLarge,
}

/// A request that could not start, with the caller's data handed back.
#[derive(Debug)]
#[must_use = "a refused start gives the request value back"]
pub struct StartError<R> {
    /// What went wrong.
    pub kind: StartErrorKind,
    /// The data given to `start_request`, returned untouched.
    pub user: R,
}

/// The client identity given to `Pool::new` is not a valid ZeroMQ identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidIdentity;

impl fmt::Display for AddServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddServerError::Full => f.write_str("the pool's server table is full"),
            AddServerError::InvalidIdentity => f.write_str(IDENTITY_RULE),
        }
    }
}

impl fmt::Display for MapThingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapThingError::Full => f.write_str("the pool's Thing table is full"),
            MapThingError::UnknownServer => f.write_str("no such server in the pool"),
        }
    }
}

impl fmt::Display for StartErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StartErrorKind::Full => "the pool is full: every request slot is in use",
            StartErrorKind::UnknownThing => "no such Thing in the pool",
            StartErrorKind::HeaderTooLarge => "the request header exceeds the configured maximum",
        })
    }
}

impl<R> fmt::Display for StartError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl fmt::Display for InvalidIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(IDENTITY_RULE)
    }
}

const IDENTITY_RULE: &str =
    "a ZeroMQ identity is 1 to 255 bytes and must not start with a NUL byte";

impl core::error::Error for AddServerError {}
impl core::error::Error for MapThingError {}
impl core::error::Error for StartErrorKind {}
impl<R: fmt::Debug> core::error::Error for StartError<R> {}
impl core::error::Error for InvalidIdentity {}

/// Checks ZeroMQ's identity rule: 1 to 255 bytes, no leading NUL (libzmq reserves those).
#[must_use]
pub fn is_valid_identity(identity: &str) -> bool {
    (1..=255).contains(&identity.len()) && !identity.starts_with('\0')
}
