//! Handles the pool gives out: an index into one of its tables plus that entry's generation, so a
//! handle kept after its entry was reused refers to nothing instead of to the new occupant.

/// A server (one DEALER connection to one hololinked server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId {
    pub(crate) index: u16,
    pub(crate) generation: u16,
}

/// A Thing mapped onto a server (many Things may share one server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThingId {
    pub(crate) index: u16,
    pub(crate) generation: u16,
}

/// A request in the pool; its message id on the wire encodes the same slot and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// A fan-out: one request per Thing under one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FanoutId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl ServerId {
    /// Position in the server table (stable while the server exists; reused after removal).
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.index)
    }
}

impl ThingId {
    /// Position in the Thing table (stable while the mapping exists; reused after unmapping).
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.index)
    }
}

impl RequestId {
    /// The slot this request occupies (reused by later requests with a new generation).
    #[must_use]
    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

impl FanoutId {
    /// Position in the fan-out table.
    #[must_use]
    pub fn index(self) -> usize {
        self.index as usize
    }
}
