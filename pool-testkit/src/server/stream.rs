//! Steady event streams: one thread per [`EventStream`], publishing `{"n":k}` at its rate.
//!
//! Invariants:
//! * a stream's `k` counts from 0 without gaps on the publisher's side (the PUB socket may still
//!   drop events for a slow subscriber); the `k`-th event is due at `start + k / rate`, so a late
//!   thread catches up in a burst rather than drifting;
//! * a stream ends at its stop signal or when the publisher is closed, whichever comes first;
//!   [`Streams::stop_all`] stops and joins every stream before the run closes its publisher.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::publisher::Publisher;
use crate::events::EventStream;
use crate::lock::lock;

/// Identifies a stream started on a [`crate::TestServer`] (unique within the server's lifetime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// A stop flag a stream thread can sleep on.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    fn set(&self) {
        *lock(&self.stopped) = true;
        self.cv.notify_all();
    }

    fn is_set(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Sleeps until `deadline`; false when stopped meanwhile.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stopped = lock(&self.stopped);
        loop {
            if *stopped {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopped = self
                .cv
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A running stream: its stop flag and thread (which returns the number of events published).
struct Running {
    stop: Arc<Stop>,
    thread: JoinHandle<u64>,
}

impl Running {
    fn stop(self) -> u64 {
        self.stop.set();
        self.thread.join().unwrap_or(0)
    }
}

/// The streams of one run.
#[derive(Default)]
pub(super) struct Streams {
    running: Vec<(StreamId, Running)>,
}

impl Streams {
    /// Starts `stream` on its own thread, publishing through `publisher`.
    pub(super) fn start(
        &mut self,
        id: StreamId,
        stream: EventStream,
        publisher: Arc<Publisher>,
    ) -> std::io::Result<()> {
        let stop = Arc::new(Stop::default());
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("testkit-stream-{}", id.0))
            .spawn(move || run(&stream, &publisher, &flag))?;
        self.running.push((id, Running { stop, thread }));
        Ok(())
    }

    /// Stops one stream; the number of events it published, `None` if it is not running.
    pub(super) fn stop(&mut self, id: StreamId) -> Option<u64> {
        let at = self.running.iter().position(|(i, _)| *i == id)?;
        Some(self.running.remove(at).1.stop())
    }

    /// Stops and joins every stream.
    pub(super) fn stop_all(&mut self) {
        for (_, running) in self.running.drain(..) {
            running.stop();
        }
    }
}

/// The stream thread: publishes until stopped or the publisher is closed.
fn run(stream: &EventStream, publisher: &Publisher, stop: &Stop) -> u64 {
    let start = Instant::now();
    let interval = (stream.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / stream.rate));
    let mut k: u64 = 0;
    loop {
        let go_on = match interval {
            Some(every) => stop.sleep_until(start + every.mul_f64(k as f64)),
            None => !stop.is_set(),
        };
        if !go_on || !publisher.publish(&stream.thing, &stream.event, stream.payload(k)) {
            return k;
        }
        k += 1;
    }
}
