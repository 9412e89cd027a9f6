//! The driver's records of servers and Things, beside the core's: names, endpoints, the
//! current connection attempt, the last error; and the functions that keep both in step.
//!
//! Invariant: a server is in `servers`, `server_ids` and the core together, or in none of
//! them; [`forget_server`] is the one way out, whoever asks (rollback, removal, close).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{Core, State};
use crate::connection::{Link, Target};
use crate::error::Error;
use crate::health::Health;
use crate::server_info::{Protocol, ServerInfo};
use pool_core::pool::{LostReason, ServerId, ServerState, ThingId};
use pool_core::Instant as CoreInstant;

/// The driver's record of one server.
pub(super) struct ServerSlot {
    pub(super) name: Arc<str>,
    pub(super) endpoint: Arc<str>,
    /// Connection attempts so far; the current one's epoch.
    pub(super) epochs: u64,
    /// The current connection attempt, if any.
    pub(super) link: Option<Link>,
    /// Why the server's last connection ended or its last connect failed, until it is ready
    /// again: what `Disconnected` and never-ready `Timeout` errors say.
    pub(super) last_error: Option<Arc<str>>,
    /// The event publisher's endpoint, if set for this server (else hololinked's convention).
    pub(super) publisher: Option<Arc<str>>,
    /// What the log has said of the server's connection (rate-limits its warnings).
    pub(super) health: Health,
}

/// The driver's record of one Thing.
pub(super) struct ThingSlot {
    pub(super) id: ThingId,
    pub(super) server: ServerId,
    pub(super) name: Arc<str>,
}

/// Undoes a server in the driver and the core: its requests end `Closed`, its Things go, its
/// connection closes. Returns the connection task's `alive` flag, if one runs.
pub(super) fn forget_server(
    state: &mut State,
    server: ServerId,
    now: CoreInstant,
) -> Option<Arc<AtomicBool>> {
    state.core.remove_server(server, now);
    let alive = close_link(state, server);
    if let Some(slot) = state.servers.remove(&server) {
        state.server_ids.remove(&slot.name);
    }
    state.things.retain(|_, t| t.server != server);
    alive
}

/// Ends the current connection attempt: its task sees the link gone and stops without
/// reporting (the core already knows). Returns the task's `alive` flag.
pub(super) fn close_link(state: &mut State, server: ServerId) -> Option<Arc<AtomicBool>> {
    let link = state.servers.get_mut(&server).and_then(|s| s.link.take())?;
    link.wake.raise();
    Some(link.alive)
}

pub(super) fn map_thing_in(state: &mut State, thing: &str, server: &str) -> Result<(), Error> {
    let unknown = || Error::UnknownServer {
        server: server.to_owned(),
    };
    let server_id = *state.server_ids.get(server).ok_or_else(unknown)?;
    let id = state.core.map_thing(server_id).map_err(|e| match e {
        pool_core::pool::MapThingError::UnknownServer => unknown(),
        pool_core::pool::MapThingError::Full => Error::Config(format!(
            "cannot add Thing `{thing}`: the pool's max_things is reached"
        )),
    })?;
    let name: Arc<str> = Arc::from(thing);
    state.things.insert(
        Arc::clone(&name),
        ThingSlot {
            id,
            server: server_id,
            name,
        },
    );
    Ok(())
}

pub(super) fn unknown_thing(state: &State, thing: String) -> Error {
    Error::unknown_thing(&thing, state.things.keys().map(|t| &**t))
}

/// The link `target` serves, if it is still the server's current attempt.
pub(super) fn current_link<'a>(state: &'a mut State, target: &Target) -> Option<&'a mut Link> {
    state
        .servers
        .get_mut(&target.server)
        .and_then(|s| s.link.as_mut())
        .filter(|l| l.epoch == target.epoch)
}

pub(super) fn is_current(state: &State, target: &Target) -> bool {
    state
        .servers
        .get(&target.server)
        .and_then(|s| s.link.as_ref())
        .is_some_and(|l| l.epoch == target.epoch)
}

/// What the pool knows of `server`, for a caller.
pub(super) fn info_of(state: &State, server: ServerId) -> Option<ServerInfo> {
    let slot = state.servers.get(&server)?;
    let mut things: Vec<String> = state
        .things
        .values()
        .filter(|t| t.server == server)
        .map(|t| t.name.to_string())
        .collect();
    things.sort_unstable();
    let ready = is_ready(&state.core, server);
    Some(ServerInfo {
        id: slot.name.to_string(),
        endpoint: slot.endpoint.to_string(),
        // Endpoints are checked when a server is added; tcp is the only other kind accepted.
        protocol: Protocol::of(&slot.endpoint).unwrap_or(Protocol::Tcp),
        ready,
        things,
        last_error: (!ready)
            .then(|| slot.last_error.as_deref().map(str::to_owned))
            .flatten(),
    })
}

pub(super) fn is_ready(core: &Core, server: ServerId) -> bool {
    core.server_state(server) == Some(ServerState::Ready)
}

/// A loss the core decided, in words (the transport words its own).
pub(super) fn describe_loss(reason: LostReason) -> &'static str {
    match reason {
        LostReason::Disconnected => "the connection closed",
        LostReason::SendFailed => "a send failed",
        LostReason::HandshakeTimeout => "no HANDSHAKE answer within the handshake timeout",
        LostReason::Unresponsive => "no answer to a liveness probe within the liveness timeout",
    }
}
