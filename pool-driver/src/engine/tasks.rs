//! What the background tasks see of the engine: a connection task's [`LinkHost`] and the
//! timer task's [`TimerHost`]. Each of their inputs goes through [`Engine::input`] like a
//! caller's.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use zeromq::{DealerSender, ZmqMessage};

use super::records::{current_link, is_current};
use super::Engine;
use crate::connection::{Exit, LinkHost, Outbound, Target};
use crate::outcome;
use crate::settings::Settings;
use crate::signal::Signal;
use crate::stats::Counters;
use crate::timer::{Armed, TimerHost};
use crate::Runtime;
use pool_core::pool::Routed;

impl<Rt: Runtime> LinkHost for Engine<Rt> {
    type Rt = Rt;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn is_current(&self, target: &Target) -> bool {
        is_current(&self.lock(), target)
    }

    fn connected(self: &Arc<Self>, target: &Target, direct: DealerSender) -> bool {
        self.input(|_, state, now| {
            let Some(link) = current_link(state, target) else {
                return false;
            };
            link.direct = Some(direct);
            state.core.handle_connected(target.server, now);
            true
        })
    }

    fn take_outbox(&self, target: &Target, batch: &mut VecDeque<Outbound>) -> bool {
        let mut state = self.lock();
        let Some(link) = current_link(&mut state, target) else {
            return false;
        };
        std::mem::swap(&mut link.outbox, batch);
        link.in_writer.fetch_add(batch.len(), Ordering::AcqRel);
        self.in_writers.fetch_add(batch.len(), Ordering::AcqRel);
        true
    }

    fn left_writer(&self, messages: usize) {
        self.in_writers.fetch_sub(messages, Ordering::AcqRel);
    }

    fn batch_written(&self) {
        self.batch_written.notify(usize::MAX);
    }

    fn message(self: &Arc<Self>, target: &Target, message: ZmqMessage) {
        let frames = message.into_vec();
        let size: usize = frames.iter().map(Bytes::len).sum();
        let limit = self.settings.max_reply_len;
        self.input(|engine, state, now| {
            if !is_current(state, target) {
                engine.counters.stale_messages.add(1);
                return;
            }
            let routed = match frames.as_slice() {
                [a, b, c, d] => state.core.handle_message(target.server, &[a, b, c, d], now),
                other => {
                    let refs: Vec<&[u8]> = other.iter().map(|f| &f[..]).collect();
                    state.core.handle_message(target.server, &refs, now)
                }
            };
            match routed {
                Routed::Completed(done) if size > limit => {
                    engine.counters.oversized_replies.add(1);
                    state.freed += 1;
                    let message_id = state.core.message_id(done.id);
                    outcome::deliver_too_large(done, message_id, size, limit);
                }
                Routed::Completed(done) => engine.complete(state, done, frames),
                Routed::Handshake => {}
                Routed::Dropped(why) => {
                    tracing::debug!(server = %target.name, ?why, "reply dropped");
                }
                Routed::Malformed(why) => {
                    tracing::debug!(server = %target.name, ?why, "malformed message dropped");
                }
            }
        });
    }

    fn ended(self: &Arc<Self>, target: &Target, exit: Exit) {
        self.input(|engine, state, now| {
            if !is_current(state, target) {
                return;
            }
            let link = state
                .servers
                .get_mut(&target.server)
                .and_then(|s| s.link.take());
            match exit {
                Exit::Closed => {}
                Exit::ConnectFailed(error) => {
                    engine.counters.connect_failures.add(1);
                    state.loss_detail = Some(error.into());
                    state.core.handle_disconnected(target.server, now);
                }
                Exit::Lost {
                    reason,
                    mut unsent,
                    error,
                } => {
                    // Messages still in the outbox never reached the socket either.
                    if let Some(link) = link {
                        unsent.extend(link.outbox.iter().filter_map(|(id, _)| *id));
                    }
                    state.loss_detail = Some(error.into());
                    state.core.handle_lost(target.server, reason, &unsent, now);
                }
            }
        });
    }
}

impl<Rt: Runtime> TimerHost for Engine<Rt> {
    type Rt = Rt;

    fn runtime(&self) -> &Rt {
        &self.rt
    }

    fn armed(&self) -> Armed {
        let state = self.lock();
        match (state.closed, state.timer_at) {
            (true, _) => Armed::Closed,
            (false, None) => Armed::Idle,
            (false, Some(at)) => Armed::At(self.instant_of(at)),
        }
    }

    fn moved(&self) -> &Signal {
        &self.timer
    }

    fn fire(self: &Arc<Self>) -> bool {
        self.input(|engine, state, now| {
            if state.closed {
                return false;
            }
            if state.timer_at.is_some_and(|at| at <= now) {
                state.core.handle_timeout(now);
            }
            // The task reads the next deadline on its next turn: armed here, it raises nothing
            // in the drain that follows unless that drain moves it earlier still.
            engine.timer.clear();
            state.timer_at = state.core.poll_timeout();
            true
        })
    }
}
