//! Fan-out: one request per Thing under one fan-out id, started all together or not at all.
//!
//! Invariants:
//! * all or nothing: an unknown Thing or too few free slots (or fan-out entries) refuse the
//!   whole fan-out, and nothing starts;
//! * each member is an ordinary request with its own outcome; `make` is given the member's id
//!   before its request exists, so a driver can hold and cancel every member;
//! * `Event::FanoutDone` follows the last member's outcome; an empty fan-out is done at once.

use super::engine::fanout_links;
use super::memory::Memory;
use super::FanoutId;
use super::{Outcome, Pool, RequestId, RequestOptions, RequestSpec, StartErrorKind, ThingId};
use crate::time::Instant;

/// Which Things a fan-out covers.
#[derive(Clone, Copy)]
enum Members<'t> {
    Listed(&'t [ThingId]),
    All,
}

impl<R: RequestSpec, M: Memory<R>> Pool<R, M> {
    /// Starts one request per Thing in `things` under one fan-out id, each built by `make`
    /// (given the member's Thing and the id its request gets) and each with its own outcome; [`Event::FanoutDone`](super::Event::FanoutDone) follows the last outcome. All or
    /// nothing: if any Thing is unknown or there are not enough free slots, nothing starts.
    /// A member whose header is too large ends `Unsendable` on its own.
    pub fn start_fanout(
        &mut self,
        things: &[ThingId],
        make: impl FnMut(ThingId, RequestId) -> R,
        options: RequestOptions,
        now: Instant,
    ) -> Result<FanoutId, StartErrorKind> {
        self.observe(now);
        if things.iter().any(|&t| self.thing_server(t).is_none()) {
            self.state.stats.refused = self.state.stats.refused.wrapping_add(1);
            return Err(StartErrorKind::UnknownThing);
        }
        self.fanout_over(Members::Listed(things), things.len(), make, options)
    }

    /// Starts one request for every mapped Thing (see [`start_fanout`](Self::start_fanout)).
    pub fn start_fanout_all(
        &mut self,
        make: impl FnMut(ThingId, RequestId) -> R,
        options: RequestOptions,
        now: Instant,
    ) -> Result<FanoutId, StartErrorKind> {
        self.observe(now);
        let count = self.things().count();
        self.fanout_over(Members::All, count, make, options)
    }

    fn fanout_over(
        &mut self,
        members: Members<'_>,
        count: usize,
        mut make: impl FnMut(ThingId, RequestId) -> R,
        options: RequestOptions,
    ) -> Result<FanoutId, StartErrorKind> {
        if self.free_slots() < count || self.state.free_fanouts.is_empty() {
            self.state.stats.refused = self.state.stats.refused.wrapping_add(1);
            return Err(StartErrorKind::Full);
        }
        let v = self.view();
        let index = v
            .state
            .free_fanouts
            .pop_front(v.tables.fanouts, fanout_links)
            .ok_or(StartErrorKind::Full)?;
        let entry = v
            .tables
            .fanouts
            .get_mut(index as usize)
            .ok_or(StartErrorKind::Full)?;
        entry.in_use = true;
        entry.remaining = count as u32;
        let fanout = FanoutId {
            index,
            generation: entry.generation,
        };
        if count == 0 {
            v.state
                .done_fanouts
                .push_back(v.tables.fanouts, index, fanout_links);
            return Ok(fanout);
        }
        let mut position = 0;
        while let Some(member) = self.member_at(members, position) {
            position += 1;
            let Some(thing) = member else { continue };
            let Some(server) = self.thing_server(thing) else {
                continue;
            };
            let Some(slot) = self.view().allocate() else {
                break;
            };
            let generation = self
                .mem
                .parts_ref()
                .slots
                .get(slot as usize)
                .map_or(0, |s| s.generation);
            let user = make(thing, RequestId { slot, generation });
            let fits = self.header_fits(server, &user);
            let mut v = self.view();
            v.fill(slot, server, thing, Some(fanout), options, user);
            v.enqueue(slot);
            if !fits {
                v.finish_later(slot, Outcome::Unsendable);
            }
        }
        Ok(fanout)
    }

    /// The Thing at `position` of a fan-out's members: `None` past the end, `Some(None)` for
    /// an unmapped table entry.
    fn member_at(&self, members: Members<'_>, position: usize) -> Option<Option<ThingId>> {
        match members {
            Members::Listed(things) => things.get(position).map(|&t| Some(t)),
            Members::All => {
                let entry = self.mem.parts_ref().things.get(position)?;
                Some(entry.server.map(|_| ThingId {
                    index: position as u16,
                    generation: entry.generation,
                }))
            }
        }
    }
}
