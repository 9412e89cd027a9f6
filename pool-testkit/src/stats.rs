//! Request and reply counters of a [`crate::TestServer`].

use std::collections::BTreeMap;

use crate::config::HostileKind;

/// Counters of one server, cumulative over restarts (see [`crate::TestServer::reset_stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Multipart messages received by the ROUTER socket, whatever their shape.
    pub received: u64,
    /// Received messages dropped without a reply (fewer than 3 frames, invalid header JSON,
    /// unknown top-level key, missing required key), as hololinked does.
    pub dropped: u64,
    /// Parseable requests by `messageType` (`HANDSHAKE`, `OPERATION`, `EXIT`, ...).
    pub received_by_type: BTreeMap<String, u64>,
    /// Operation requests (5 frames) by `operation` (`readproperty`, `invokeaction`, ...).
    pub received_by_operation: BTreeMap<String, u64>,
    /// `EXIT` requests received (each stops the server; a pool must never send one).
    pub exits: u64,
    /// Protocol replies sent (hostile extras not included).
    pub replied: u64,
    /// Protocol replies sent, by `messageType` (`HANDSHAKE`, `REPLY`, `EXCEPTION`, `TIMEOUT`,
    /// `INVALID_MESSAGE`).
    pub replied_by_type: BTreeMap<String, u64>,
    /// Bad messages sent in [`crate::Behaviour::Hostile`] mode, by kind.
    pub hostile_sent: BTreeMap<HostileKind, u64>,
}

impl Stats {
    /// Requests received with this `messageType`.
    pub fn received_of(&self, message_type: &str) -> u64 {
        self.received_by_type
            .get(message_type)
            .copied()
            .unwrap_or(0)
    }

    /// Operation requests received with this `operation`.
    pub fn operations_of(&self, operation: &str) -> u64 {
        self.received_by_operation
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Replies sent with this `messageType`.
    pub fn replied_of(&self, message_type: &str) -> u64 {
        self.replied_by_type.get(message_type).copied().unwrap_or(0)
    }

    /// Bad messages of this kind sent.
    pub fn hostile_of(&self, kind: HostileKind) -> u64 {
        self.hostile_sent.get(&kind).copied().unwrap_or(0)
    }

    /// Counts a parseable request of this `messageType`.
    pub(crate) fn count_received(&mut self, message_type: &str) {
        bump(&mut self.received_by_type, message_type);
    }

    /// Counts an operation request with this `operation`.
    pub(crate) fn count_operation(&mut self, operation: &str) {
        bump(&mut self.received_by_operation, operation);
    }

    /// Counts a protocol reply sent with this `messageType`.
    pub(crate) fn count_reply(&mut self, message_type: &str) {
        self.replied += 1;
        bump(&mut self.replied_by_type, message_type);
    }
}

/// One more of `key` (the key is copied only the first time).
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}
