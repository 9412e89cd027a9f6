//! An indexed binary min-heap of request deadlines.
//!
//! Each entry remembers its position in the heap, so a request that ends before its deadline
//! leaves the heap at once (O(log n)) instead of lingering as a stale timer. The heap therefore
//! never holds more entries than there are slots, and `poll_timeout` is the heap top: always the
//! earliest live deadline.
//!
//! The heap array keeps each deadline beside its slot index, so sifting compares within the
//! array and only writes the moved entries' positions back to their slots: a slot holds the
//! caller's whole request, and reading one per comparison was a cache miss per heap level.

use super::list::NIL;
use crate::time::Instant;

/// An entry that can sit in the heap.
pub(crate) trait Timed {
    fn deadline(&self) -> Instant;
    fn heap_pos(&mut self) -> &mut u32;
}

/// One place in the heap array: a slot index and the deadline it had when it was pushed (a
/// slot's deadline does not change while it is in the heap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapEntry {
    at: Instant,
    index: u32,
}

impl HeapEntry {
    /// An unused place.
    pub(crate) const EMPTY: HeapEntry = HeapEntry {
        at: Instant(0),
        index: NIL,
    };
}

/// Heap bookkeeping; the heap array itself (`&mut [HeapEntry]`) lives in the pool's memory
/// beside the entries.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DeadlineHeap {
    len: u32,
}

impl DeadlineHeap {
    #[cfg(test)]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Index and deadline of the earliest entry.
    pub(crate) fn peek(&self, heap: &[HeapEntry]) -> Option<(u32, Instant)> {
        if self.len == 0 {
            return None;
        }
        heap.first().map(|e| (e.index, e.at))
    }

    /// Adds `index`, whose deadline is already set. Ignored if the heap is full (cannot happen
    /// when the heap has one place per entry and each entry is pushed at most once).
    pub(crate) fn push<T: Timed>(&mut self, heap: &mut [HeapEntry], table: &mut [T], index: u32) {
        let pos = self.len;
        let (Some(place), Some(entry)) =
            (heap.get_mut(pos as usize), table.get_mut(index as usize))
        else {
            return;
        };
        *place = HeapEntry {
            at: entry.deadline(),
            index,
        };
        *entry.heap_pos() = pos;
        self.len += 1;
        self.sift_up(heap, table, pos);
    }

    /// Removes `index` if it is in the heap.
    pub(crate) fn remove<T: Timed>(&mut self, heap: &mut [HeapEntry], table: &mut [T], index: u32) {
        let Some(entry) = table.get_mut(index as usize) else {
            return;
        };
        let pos = core::mem::replace(entry.heap_pos(), NIL);
        if pos == NIL || pos >= self.len {
            return;
        }
        self.len -= 1;
        let last = self.len;
        if pos == last {
            return;
        }
        let moved = heap.get(last as usize).copied().unwrap_or(HeapEntry::EMPTY);
        Self::put(heap, table, pos, moved);
        let pos = self.sift_up(heap, table, pos);
        self.sift_down(heap, table, pos);
    }

    fn key(heap: &[HeapEntry], pos: u32) -> Option<Instant> {
        heap.get(pos as usize).map(|e| e.at)
    }

    /// Writes `entry` at `pos` and tells its slot where it now is.
    fn put<T: Timed>(heap: &mut [HeapEntry], table: &mut [T], pos: u32, entry: HeapEntry) {
        if let Some(place) = heap.get_mut(pos as usize) {
            *place = entry;
        }
        if let Some(slot) = table.get_mut(entry.index as usize) {
            *slot.heap_pos() = pos;
        }
    }

    fn swap<T: Timed>(heap: &mut [HeapEntry], table: &mut [T], a: u32, b: u32) {
        let (Some(&ea), Some(&eb)) = (heap.get(a as usize), heap.get(b as usize)) else {
            return;
        };
        Self::put(heap, table, a, eb);
        Self::put(heap, table, b, ea);
    }

    fn sift_up<T: Timed>(&self, heap: &mut [HeapEntry], table: &mut [T], mut pos: u32) -> u32 {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            match (Self::key(heap, pos), Self::key(heap, parent)) {
                (Some(k), Some(pk)) if k < pk => {
                    Self::swap(heap, table, pos, parent);
                    pos = parent;
                }
                _ => break,
            }
        }
        pos
    }

    fn sift_down<T: Timed>(&self, heap: &mut [HeapEntry], table: &mut [T], mut pos: u32) {
        loop {
            let left = pos.saturating_mul(2).saturating_add(1);
            if left >= self.len {
                return;
            }
            let right = left + 1;
            let mut child = left;
            if right < self.len && Self::key(heap, right) < Self::key(heap, left) {
                child = right;
            }
            if Self::key(heap, child) < Self::key(heap, pos) {
                Self::swap(heap, table, pos, child);
                pos = child;
            } else {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[derive(Clone, Copy)]
    struct E {
        at: Instant,
        pos: u32,
    }
    impl Timed for E {
        fn deadline(&self) -> Instant {
            self.at
        }
        fn heap_pos(&mut self) -> &mut u32 {
            &mut self.pos
        }
    }

    #[test]
    fn pops_in_deadline_order_with_removals() {
        let times = [50u64, 10, 40, 30, 20, 60, 5, 45];
        let mut table: Vec<E> = times
            .iter()
            .map(|&t| E {
                at: Instant(t),
                pos: NIL,
            })
            .collect();
        let mut heap = [HeapEntry::EMPTY; 8];
        let mut h = DeadlineHeap::default();
        for i in 0..8 {
            h.push(&mut heap, &mut table, i);
        }
        h.remove(&mut heap, &mut table, 1); // 10
        h.remove(&mut heap, &mut table, 5); // 60
        h.remove(&mut heap, &mut table, 5); // again: no-op
        let mut out = Vec::new();
        while let Some((i, at)) = h.peek(&heap) {
            out.push(at.0);
            h.remove(&mut heap, &mut table, i);
        }
        assert_eq!(out, [5, 20, 30, 40, 45, 50]);
        assert_eq!(h.len(), 0);
    }

    /// Random pushes and removals (including from the middle) against a sorted reference.
    #[test]
    fn matches_a_reference_under_random_operations() {
        let mut rng = crate::SplitMix64::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let n = 1 + rng.below(40) as usize;
            let mut table: Vec<E> = (0..n)
                .map(|_| E {
                    at: Instant(rng.below(50)),
                    pos: NIL,
                })
                .collect();
            let mut heap = std::vec![HeapEntry::EMPTY; n];
            let mut h = DeadlineHeap::default();
            let mut inside: Vec<u32> = Vec::new();
            for _ in 0..200 {
                let i = rng.below(n as u64) as u32;
                if inside.contains(&i) {
                    h.remove(&mut heap, &mut table, i);
                    inside.retain(|&x| x != i);
                } else {
                    h.push(&mut heap, &mut table, i);
                    inside.push(i);
                }
                let expected = inside.iter().map(|&i| table[i as usize].at).min();
                assert_eq!(h.peek(&heap).map(|(_, at)| at), expected);
                assert_eq!(h.len() as usize, inside.len());
            }
        }
    }
}
