//! Model-based property test of `pool_core::events::Subscriptions`, the sans-IO event
//! subscription bookkeeping.
//!
//! A reference model (`reference::Model`) generates random sequences of commands and inputs:
//! subscriptions to a few topics on a few servers with queues of 1 to 4 events (and refused
//! ones: empty and too-long topics, queue lengths 0 and 5, too many subscriptions, after close),
//! unsubscribes, events (for wanted topics, often in bursts that overflow the queues; for
//! unwanted topics, prefixes and extensions of wanted ones, unknown servers; in every header
//! shape the decoder accepts), frames `classify_event` refuses, publishers connected and lost,
//! servers removed, the pool closed, consumers popping, and a driver that sometimes lets
//! `poll_change` and `poll_woken` pile up. After every step the outputs are drained as the
//! polling contract says and everything `Subscriptions` did is compared with what the model
//! predicts: return values, every popped item (events with their `seq`, header and frames,
//! `Lagged(n)`, `Disconnected`, `Reconnected`, the end), the reconnect delays, the servers
//! whose wanted topics changed, the subscriptions woken, and between steps the wanted topics
//! of every server, the connection states, the queue lengths and every `EventStats` counter.
//!
//! The shape follows `tests/model` (and firezone's tunnel test): a `ReferenceStateMachine` (the
//! model) and a `StateMachineTest` (`Subscriptions` plus what a driver and its consumers keep).
//! The files:
//! * `transition.rs`: the `Transition` enum and the wire form of every event and bad frame;
//! * `strategies.rs`: how transitions are generated;
//! * `reference.rs`: the reference state (`Model`) and each transition's effect on it;
//! * `sut.rs`: `Subscriptions` under test, how it applies a transition, the checks.
//!
//! Invariants:
//! * the test is `subscriptions_match_model`: `PROPTEST_CASES` cases (256 by default) of 1 to
//!   79 steps;
//! * no regression files are written: a failing case is printed, and its transitions replay it;
//! * nothing here reads a clock or an OS RNG: randomness is proptest's.

mod reference;
mod strategies;
mod sut;
mod transition;

use pool_core::events::Config;
use pool_core::Duration;
use proptest::prelude::*;
use proptest_state_machine::prop_state_machine;

use sut::EventsTest;

/// Small limits, so that every one of them is reached: 6 subscriptions, queues of at most 4
/// events, topics of at most 48 bytes, reconnect delays 50 ms doubling to 400 ms.
pub(crate) fn config() -> Config {
    Config {
        max_subscriptions: 6,
        max_queue_len: 4,
        max_topic_len: 48,
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Keep the test to this one directory: no regression files next to it.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn subscriptions_match_model(sequential 1..80 => EventsTest);
}
