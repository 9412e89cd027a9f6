//! The pool's tables, allocated once: fixed arrays without a heap ([`FixedMemory`]), or sized at
//! run time with `alloc` ([`HeapMemory`]). Nothing grows after creation, so memory is bounded by
//! the chosen capacity and the hot path never allocates.

use super::deadlines::{HeapEntry, Timed};
use super::event::Outcome;
use super::handles::{FanoutId, ServerId, ThingId};
use super::list::{Links, List, NIL};
use crate::time::Instant;

/// Longest ZeroMQ identity (client id or server id).
pub const MAX_IDENTITY_LEN: usize = 255;

/// A ZeroMQ identity stored without a heap.
pub(crate) type Identity = heapless::String<MAX_IDENTITY_LEN>;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    Free,
    /// Its server is not ready; it waits (in the server's `waiting` list) within its deadline.
    Waiting,
    /// Ready to go out (in the server's `queued` list); `poll_transmit` will write it.
    Queued,
    /// Handed to the transport (in the server's `sent` list), awaiting the reply.
    Sent,
    /// Ended; the outcome waits in the `done` list for `poll_event`.
    Done(Outcome),
}

/// One request slot. Opaque: it is public only so that memory types can name it.
#[derive(Debug)]
pub struct Slot<R> {
    pub(crate) generation: u32,
    pub(crate) state: SlotState,
    pub(crate) links: Links,
    pub(crate) heap_pos: u32,
    pub(crate) deadline: Option<Instant>,
    pub(crate) server: ServerId,
    pub(crate) thing: ThingId,
    pub(crate) fanout: Option<FanoutId>,
    pub(crate) oneway: bool,
    pub(crate) user: Option<R>,
}

impl<R> Slot<R> {
    /// An unused slot.
    #[must_use]
    pub fn new() -> Self {
        Slot {
            generation: 0,
            state: SlotState::Free,
            links: Links::UNLINKED,
            heap_pos: NIL,
            deadline: None,
            server: ServerId {
                index: 0,
                generation: 0,
            },
            thing: ThingId {
                index: 0,
                generation: 0,
            },
            fanout: None,
            oneway: false,
            user: None,
        }
    }
}

impl<R> Default for Slot<R> {
    fn default() -> Self {
        Slot::new()
    }
}

impl<R> Timed for Slot<R> {
    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or(Instant(u64::MAX))
    }
    fn heap_pos(&mut self) -> &mut u32 {
        &mut self.heap_pos
    }
}

/// Connection state of one server (`Pool::server_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Waiting for the transport to connect (after a `Connect` event).
    Connecting,
    /// Connected; HANDSHAKE sent every `handshake_interval` until one is answered.
    Handshaking {
        /// When the handshake began.
        since: Instant,
    },
    /// Answered a HANDSHAKE: requests flow.
    Ready,
    /// Lost; a `Connect` event comes at `until`.
    Backoff {
        /// End of the backoff.
        until: Instant,
    },
}

/// Pending server notifications, emitted in this order.
pub(crate) mod pending {
    pub const LOST: u8 = 1;
    pub const CONNECT: u8 = 2;
    pub const READY: u8 = 4;
}

/// One server. Opaque: public only so that memory types can name it.
#[derive(Debug)]
pub struct ServerEntry {
    pub(crate) generation: u16,
    pub(crate) in_use: bool,
    pub(crate) identity: Identity,
    pub(crate) state: ServerState,
    /// Next handshake resend or end of backoff.
    pub(crate) timer: Option<Instant>,
    /// Consecutive losses without reaching Ready (drives the backoff).
    pub(crate) attempt: u32,
    pub(crate) handshake_due: bool,
    pub(crate) waiting: List,
    pub(crate) queued: List,
    pub(crate) sent: List,
    pub(crate) tx_links: Links,
    pub(crate) in_tx: bool,
    pub(crate) event_links: Links,
    pub(crate) pending: u8,
    pub(crate) lost_reason: super::event::LostReason,
    /// When the server last sent anything well-formed (set on Ready): the liveness input.
    pub(crate) heard: Instant,
    /// When a liveness probe (a HANDSHAKE while Ready) went out, until anything arrives.
    pub(crate) probing: Option<Instant>,
}

impl ServerEntry {
    /// An unused server entry.
    #[must_use]
    pub fn new() -> Self {
        ServerEntry {
            generation: 0,
            in_use: false,
            identity: Identity::new(),
            state: ServerState::Connecting,
            timer: None,
            attempt: 0,
            handshake_due: false,
            waiting: List::EMPTY,
            queued: List::EMPTY,
            sent: List::EMPTY,
            tx_links: Links::UNLINKED,
            in_tx: false,
            event_links: Links::UNLINKED,
            pending: 0,
            lost_reason: super::event::LostReason::Disconnected,
            heard: Instant::ZERO,
            probing: None,
        }
    }
}

impl Default for ServerEntry {
    fn default() -> Self {
        ServerEntry::new()
    }
}

/// One Thing → server mapping. Opaque: public only so that memory types can name it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThingEntry {
    pub(crate) generation: u16,
    pub(crate) server: Option<ServerId>,
}

/// One fan-out. Opaque: public only so that memory types can name it.
#[derive(Debug, Default, Clone, Copy)]
pub struct FanoutEntry {
    pub(crate) generation: u32,
    pub(crate) in_use: bool,
    pub(crate) remaining: u32,
    pub(crate) links: Links,
}

/// Borrowed views of all tables at once.
pub struct Parts<'a, R> {
    pub(crate) slots: &'a mut [Slot<R>],
    pub(crate) heap: &'a mut [HeapEntry],
    pub(crate) servers: &'a mut [ServerEntry],
    pub(crate) things: &'a mut [ThingEntry],
    pub(crate) fanouts: &'a mut [FanoutEntry],
}

/// Shared views of all tables at once.
pub struct PartsRef<'a, R> {
    pub(crate) slots: &'a [Slot<R>],
    pub(crate) heap: &'a [HeapEntry],
    pub(crate) servers: &'a [ServerEntry],
    pub(crate) things: &'a [ThingEntry],
}

/// Storage for a pool. Implemented by [`FixedMemory`] and (with `alloc`) [`HeapMemory`]; sealed.
pub trait Memory<R>: sealed::Sealed {
    /// All tables, mutably.
    fn parts(&mut self) -> Parts<'_, R>;
    /// All tables, shared.
    fn parts_ref(&self) -> PartsRef<'_, R>;
}

mod sealed {
    pub trait Sealed {}
}

/// Fixed-capacity storage, no heap: `SLOTS` requests in flight, `SERVERS` servers, `THINGS`
/// Things, `FANOUTS` concurrent fan-outs. Put it in a `static` cell or on the stack.
pub struct FixedMemory<
    R,
    const SLOTS: usize,
    const SERVERS: usize,
    const THINGS: usize,
    const FANOUTS: usize,
> {
    slots: [Slot<R>; SLOTS],
    heap: [HeapEntry; SLOTS],
    servers: [ServerEntry; SERVERS],
    things: [ThingEntry; THINGS],
    fanouts: [FanoutEntry; FANOUTS],
}

impl<R, const SLOTS: usize, const SERVERS: usize, const THINGS: usize, const FANOUTS: usize>
    FixedMemory<R, SLOTS, SERVERS, THINGS, FANOUTS>
{
    /// Empty tables.
    #[must_use]
    pub fn new() -> Self {
        const {
            assert!(SLOTS < u32::MAX as usize, "SLOTS must be below u32::MAX");
            assert!(SERVERS <= u16::MAX as usize, "SERVERS must fit in u16");
            assert!(THINGS <= u16::MAX as usize, "THINGS must fit in u16");
            assert!(
                FANOUTS < u32::MAX as usize,
                "FANOUTS must be below u32::MAX"
            );
        }
        FixedMemory {
            slots: core::array::from_fn(|_| Slot::new()),
            heap: [HeapEntry::EMPTY; SLOTS],
            servers: core::array::from_fn(|_| ServerEntry::new()),
            things: [ThingEntry::default(); THINGS],
            fanouts: [FanoutEntry::default(); FANOUTS],
        }
    }
}

impl<R, const SLOTS: usize, const SERVERS: usize, const THINGS: usize, const FANOUTS: usize> Default
    for FixedMemory<R, SLOTS, SERVERS, THINGS, FANOUTS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<R, const SLOTS: usize, const SERVERS: usize, const THINGS: usize, const FANOUTS: usize>
    sealed::Sealed for FixedMemory<R, SLOTS, SERVERS, THINGS, FANOUTS>
{
}

impl<R, const SLOTS: usize, const SERVERS: usize, const THINGS: usize, const FANOUTS: usize>
    Memory<R> for FixedMemory<R, SLOTS, SERVERS, THINGS, FANOUTS>
{
    fn parts(&mut self) -> Parts<'_, R> {
        Parts {
            slots: &mut self.slots,
            heap: &mut self.heap,
            servers: &mut self.servers,
            things: &mut self.things,
            fanouts: &mut self.fanouts,
        }
    }
    fn parts_ref(&self) -> PartsRef<'_, R> {
        PartsRef {
            slots: &self.slots,
            heap: &self.heap,
            servers: &self.servers,
            things: &self.things,
        }
    }
}

/// Table sizes for [`HeapMemory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Requests in flight at once (clamped below `u32::MAX`).
    pub requests: usize,
    /// Servers (clamped to `u16::MAX`).
    pub servers: usize,
    /// Things (clamped to `u16::MAX`).
    pub things: usize,
    /// Concurrent fan-outs.
    pub fanouts: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            requests: 4096,
            servers: 64,
            things: 256,
            fanouts: 64,
        }
    }
}

/// Storage sized at run time; allocated once in [`HeapMemory::new`], never resized.
#[cfg(feature = "alloc")]
pub struct HeapMemory<R> {
    slots: alloc::boxed::Box<[Slot<R>]>,
    heap: alloc::boxed::Box<[HeapEntry]>,
    servers: alloc::boxed::Box<[ServerEntry]>,
    things: alloc::boxed::Box<[ThingEntry]>,
    fanouts: alloc::boxed::Box<[FanoutEntry]>,
}

#[cfg(feature = "alloc")]
impl<R> HeapMemory<R> {
    /// Tables of the given sizes.
    #[must_use]
    pub fn new(capacity: Capacity) -> Self {
        use alloc::vec::Vec;
        let requests = capacity.requests.min(u32::MAX as usize - 1);
        let servers = capacity.servers.min(usize::from(u16::MAX));
        let things = capacity.things.min(usize::from(u16::MAX));
        let fanouts = capacity.fanouts.min(u32::MAX as usize - 1);
        HeapMemory {
            slots: (0..requests)
                .map(|_| Slot::new())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
            heap: alloc::vec![HeapEntry::EMPTY; requests].into_boxed_slice(),
            servers: (0..servers)
                .map(|_| ServerEntry::new())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
            things: alloc::vec![ThingEntry::default(); things].into_boxed_slice(),
            fanouts: alloc::vec![FanoutEntry::default(); fanouts].into_boxed_slice(),
        }
    }
}

#[cfg(feature = "alloc")]
impl<R> sealed::Sealed for HeapMemory<R> {}

#[cfg(feature = "alloc")]
impl<R> Memory<R> for HeapMemory<R> {
    fn parts(&mut self) -> Parts<'_, R> {
        Parts {
            slots: &mut self.slots,
            heap: &mut self.heap,
            servers: &mut self.servers,
            things: &mut self.things,
            fanouts: &mut self.fanouts,
        }
    }
    fn parts_ref(&self) -> PartsRef<'_, R> {
        PartsRef {
            slots: &self.slots,
            heap: &self.heap,
            servers: &self.servers,
            things: &self.things,
        }
    }
}
