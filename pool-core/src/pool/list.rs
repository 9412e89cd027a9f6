//! Intrusive doubly linked FIFO lists over a table of entries.
//!
//! Every queue in the core (free slots, requests waiting for a server, requests ready to send,
//! requests in flight, finished requests, servers with work) threads through the entries it
//! holds, so no queue needs memory of its own and none can overflow: memory is exactly the
//! tables. Removal from the middle (cancel, timeout) is O(1).

/// Marks "no entry" in a link.
pub(crate) const NIL: u32 = u32::MAX;

/// The links an entry needs to sit in one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Links {
    prev: u32,
    next: u32,
}

impl Links {
    pub(crate) const UNLINKED: Links = Links {
        prev: NIL,
        next: NIL,
    };
}

impl Default for Links {
    fn default() -> Self {
        Links::UNLINKED
    }
}

/// A FIFO of entry indices whose links live in the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct List {
    head: u32,
    tail: u32,
    len: u32,
}

impl Default for List {
    fn default() -> Self {
        List::EMPTY
    }
}

impl List {
    pub(crate) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };

    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// The entry after `index` in this list.
    pub(crate) fn next_of<T>(table: &[T], index: u32, links: impl Fn(&T) -> &Links) -> Option<u32> {
        let next = table.get(index as usize).map(|e| links(e).next)?;
        (next != NIL).then_some(next)
    }

    /// Appends `index` (which must not be in any list using the same links).
    pub(crate) fn push_back<T>(
        &mut self,
        table: &mut [T],
        index: u32,
        links: impl Fn(&mut T) -> &mut Links,
    ) {
        let old_tail = self.tail;
        if let Some(entry) = table.get_mut(index as usize) {
            *links(entry) = Links {
                prev: old_tail,
                next: NIL,
            };
        } else {
            return;
        }
        match table.get_mut(old_tail as usize) {
            Some(tail) => links(tail).next = index,
            None => self.head = index,
        }
        self.tail = index;
        self.len += 1;
    }

    /// Prepends `index` (which must not be in any list using the same links).
    pub(crate) fn push_front<T>(
        &mut self,
        table: &mut [T],
        index: u32,
        links: impl Fn(&mut T) -> &mut Links,
    ) {
        let old_head = self.head;
        if let Some(entry) = table.get_mut(index as usize) {
            *links(entry) = Links {
                prev: NIL,
                next: old_head,
            };
        } else {
            return;
        }
        match table.get_mut(old_head as usize) {
            Some(head) => links(head).prev = index,
            None => self.tail = index,
        }
        self.head = index;
        self.len += 1;
    }

    /// Removes and returns the first entry.
    pub(crate) fn pop_front<T>(
        &mut self,
        table: &mut [T],
        links: impl Fn(&mut T) -> &mut Links,
    ) -> Option<u32> {
        let index = self.front()?;
        self.unlink(table, index, links);
        Some(index)
    }

    /// Removes `index` from this list (it must be in it).
    pub(crate) fn unlink<T>(
        &mut self,
        table: &mut [T],
        index: u32,
        links: impl Fn(&mut T) -> &mut Links,
    ) {
        let Some(entry) = table.get_mut(index as usize) else {
            return;
        };
        let Links { prev, next } = core::mem::replace(links(entry), Links::UNLINKED);
        match table.get_mut(prev as usize) {
            Some(p) => links(p).next = next,
            None => self.head = next,
        }
        match table.get_mut(next as usize) {
            Some(n) => links(n).prev = prev,
            None => self.tail = prev,
        }
        self.len = self.len.saturating_sub(1);
    }

    /// Moves every entry of `other` to the back of `self`, in order. O(1).
    pub(crate) fn append<T>(
        &mut self,
        other: &mut List,
        table: &mut [T],
        links: impl Fn(&mut T) -> &mut Links,
    ) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = *other;
        } else {
            if let Some(tail) = table.get_mut(self.tail as usize) {
                links(tail).next = other.head;
            }
            if let Some(head) = table.get_mut(other.head as usize) {
                links(head).prev = self.tail;
            }
            self.tail = other.tail;
            self.len += other.len;
        }
        *other = List::EMPTY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn collect(list: &List, table: &[Links]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = list.front();
        while let Some(i) = cur {
            out.push(i);
            cur = List::next_of(table, i, |l| l);
        }
        out
    }

    #[test]
    fn fifo_unlink_and_append() {
        let mut table = [Links::UNLINKED; 6];
        let mut a = List::EMPTY;
        let mut b = List::EMPTY;
        for i in 0..3 {
            a.push_back(&mut table, i, |l| l);
        }
        for i in 3..6 {
            b.push_back(&mut table, i, |l| l);
        }
        a.unlink(&mut table, 1, |l| l);
        assert_eq!(collect(&a, &table), [0, 2]);
        b.unlink(&mut table, 3, |l| l);
        b.unlink(&mut table, 5, |l| l);
        assert_eq!(collect(&b, &table), [4]);
        a.append(&mut b, &mut table, |l| l);
        assert!(b.is_empty());
        assert_eq!(collect(&a, &table), [0, 2, 4]);
        assert_eq!(a.len(), 3);
        assert_eq!(a.pop_front(&mut table, |l| l), Some(0));
        assert_eq!(a.pop_front(&mut table, |l| l), Some(2));
        assert_eq!(a.pop_front(&mut table, |l| l), Some(4));
        assert_eq!(a.pop_front(&mut table, |l| l), None);
        assert_eq!(a, List::EMPTY);
    }
}
