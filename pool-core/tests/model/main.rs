//! Model-based property test of the sans-IO pool.
//!
//! A reference model of the rules (`reference::Model`) generates random sequences of commands and inputs
//! (servers coming and going, handshakes, replies of every kind, late / duplicate / foreign /
//! malformed messages, requests, fan-outs, cancels and a hand-moved clock). After every step the
//! pool's outputs are drained as its polling contract says (`poll_transmit` until `None`, then
//! `poll_event` until `None`) and everything it did is compared with what the model predicts:
//! return values, routed messages, transmits, events, completions, server states and loads,
//! `poll_timeout`, slot accounting and every counter in `Stats`.
//!
//! The shape follows firezone's tunnel test: a `ReferenceStateMachine` (the model) and a
//! `StateMachineTest` (the pool plus the bookkeeping a driver would keep).
//!
//! A `Hold` transition makes the driver slow: from then on only `poll_event` is drained after each
//! step, until a `DrainTransmits` transition sends everything. That exercises requests that are
//! queued but not yet handed to the transport (disconnects, cancels and timeouts while queued).
//!
//! A `Silence` transition makes a server stop answering until it is lost, so servers with
//! requests in flight go quiet too: the liveness probe (sent to any quiet ready server, busy or
//! idle) goes unanswered and the server is lost with its requests in flight.
//!
//! The files, as in firezone's state-machine tests:
//! * `transition.rs`: the `Transition` enum, one step of a case;
//! * `strategies.rs`: how initial states and transitions are generated;
//! * `reference.rs`: the reference state (`Model`) and each transition's effect on it;
//! * `sut.rs`: the pool under test with a driver's bookkeeping, how it applies a transition and
//!   the checks after every step;
//! * `fixture.rs`: the pool's configuration and the request value, shared by all of the above.
//!
//! Invariants:
//! * the tests here are `pool_matches_model` (the state machine, `PROPTEST_CASES` cases of 1 to
//!   59 steps, 256 by default) and `handshake_timeout_fires_at_the_timeout` (a fixed sequence the
//!   model once found);
//! * no regression files are written: a failing case is printed, and its transitions replay it;
//! * nothing here reads a clock or an OS RNG: time is the model's, randomness is proptest's.

mod fixture;
mod reference;
mod strategies;
mod sut;
mod transition;

use pool_core::pool::{Event, LostReason};
use pool_core::Instant;
use proptest::prelude::*;
use proptest_state_machine::prop_state_machine;

use fixture::{new_pool, pool_config, HANDSHAKE_TIMEOUT};
use sut::PoolTest;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Keep the test to this one file: no regression files next to it.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pool_matches_model(sequential 1..60 => PoolTest);
}

/// `Config::handshake_timeout` fires at the timeout itself, not at the next HANDSHAKE resend
/// after it (found by this model: with a 500 ms interval and a 1200 ms timeout the loss used to
/// come at 1500 ms). As model transitions: setup `[AddServer]`, then `Connect(0)`, `Wake` x3.
#[test]
fn handshake_timeout_fires_at_the_timeout() {
    let mut pool = new_pool();
    let mut buf = vec![0; pool_config().max_header_len];
    let server = pool
        .add_server("srv-0", Instant::ZERO)
        .expect("room for a server");
    while pool.poll_event().is_some() {}
    pool.handle_connected(server, Instant::ZERO);
    let mut wakes = Vec::new();
    let mut lost_at = None;
    while lost_at.is_none() && wakes.len() < 10 {
        while pool.poll_transmit(&mut buf).is_some() {}
        let Some(at) = pool.poll_timeout() else { break };
        wakes.push(at);
        pool.handle_timeout(at);
        while let Some(event) = pool.poll_event() {
            if let Event::ServerLost(_, LostReason::HandshakeTimeout) = event {
                lost_at = Some(at);
            }
        }
    }
    assert_eq!(
        lost_at,
        Some(Instant(HANDSHAKE_TIMEOUT)),
        "server lost at {lost_at:?}; timer wake-ups {wakes:?}"
    );
}
