//! Locking that survives a panicked holder.
//!
//! Invariant: every mutex of the testkit guards plain data (counters, a behaviour, a queue, a
//! socket slot) that stays consistent between statements, so a lock poisoned by a panicking
//! thread is taken over as it is rather than spreading the panic to the handle or its drop.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, poisoned or not.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
