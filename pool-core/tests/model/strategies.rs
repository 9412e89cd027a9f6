//! What to generate: the initial states and, from each model state, the weighted transitions
//! that make interesting cases likely (servers mostly in place, replies to requests in flight,
//! clock moves on a grid where deadlines and timers coincide, silent servers).
//!
//! Invariants:
//! * generation reads the model and nothing else; what a transition means is decided in
//!   `reference.rs`, so a strategy can only make a case more or less likely, never change what
//!   is asserted;
//! * every transition generated from a state passes `PoolModel::preconditions` on that state
//!   (arms that need a server, Thing or known request are only offered when one exists);
//! * `Silence` only steers generation: the targeted arms (HANDSHAKE replies, replies to its
//!   requests in flight) leave a silent server out until it is lost, so busy servers go quiet
//!   long enough for their liveness probes and losses; the catch-all arms may still reach it.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

use crate::fixture::*;
use pool_core::pool::ServerState;

use crate::reference::{Model, Status};
use crate::transition::{Bad, ForeignId, Kind, Transition};

fn timeout_ms() -> BoxedStrategy<Option<u64>> {
    prop_oneof![
        1 => Just(None),
        2 => (0u64..40).prop_map(|n| Some(n * 50)),
        1 => (0u64..2000).prop_map(Some),
        // Past the liveness interval: a busy server's probe comes before the deadline.
        1 => (2_000u64..6_000).prop_map(Some),
    ]
    .boxed()
}

fn oneway() -> BoxedStrategy<bool> {
    prop_oneof![3 => Just(false), 1 => Just(true)].boxed()
}

fn kind() -> BoxedStrategy<Kind> {
    prop_oneof![
        4 => Just(Kind::Reply),
        1 => Just(Kind::Exception),
        1 => Just(Kind::InvalidMessage),
        1 => Just(Kind::ExecutionTimeout),
        1 => Just(Kind::InvokationTimeout),
    ]
    .boxed()
}

fn foreign_id() -> BoxedStrategy<ForeignId> {
    prop_oneof![
        Just(ForeignId::Garbage),
        Just(ForeignId::OtherPool),
        Just(ForeignId::OtherClient),
        Just(ForeignId::HandshakeId),
    ]
    .boxed()
}

fn bad() -> BoxedStrategy<Bad> {
    prop_oneof![
        Just(Bad::NoFrames),
        Just(Bad::OneFrame),
        Just(Bad::ThreeFrames),
        Just(Bad::FiveFrames),
        Just(Bad::Delimiter),
        Just(Bad::NotJson),
        Just(Bad::UnknownType),
        Just(Bad::TimeoutPayload),
    ]
    .boxed()
}

pub(crate) fn init_state() -> BoxedStrategy<Model> {
    // Most cases start with servers and Things in place, so more steps exercise requests.
    prop_oneof![
        1 => Just(Model::new()),
        4 => (1..=SERVERS, proptest::collection::vec(0..SERVERS, 1..=THINGS))
            .prop_map(|(servers, things)| Model::with_setup(servers, &things)),
    ]
    .boxed()
}

pub(crate) fn transitions(s: &Model) -> BoxedStrategy<Transition> {
    use Transition as T;
    let mut arms: Vec<(u32, BoxedStrategy<T>)> = Vec::new();
    let alive: Vec<usize> = (0..s.servers.len())
        .filter(|&i| s.servers[i].alive)
        .collect();
    arms.push((
        if alive.len() < SERVERS { 4 } else { 1 },
        Just(T::AddServer).boxed(),
    ));
    // Mostly on a 50 ms grid, so deadlines, timers and the handshake timeout coincide.
    arms.push((3, (0u64..10).prop_map(|n| T::Tick(n * 50)).boxed()));
    arms.push((1, (0u64..1500).prop_map(T::Tick).boxed()));
    arms.push((
        4,
        prop_oneof![3 => Just(false), 1 => Just(true)]
            .prop_map(|early| T::Wake { early })
            .boxed(),
    ));
    arms.push((
        1,
        prop_oneof![2 => Just(false), 1 => Just(true)]
            .prop_map(|events| T::Hold { events })
            .boxed(),
    ));
    arms.push((2, Just(T::DrainTransmits).boxed()));
    arms.push((
        2,
        (timeout_ms(), oneway())
            .prop_map(|(timeout_ms, oneway)| T::Fanout { timeout_ms, oneway })
            .boxed(),
    ));

    let n = s.servers.len();
    if n > 0 {
        // Any server, removed ones included (stale handles).
        arms.push((1, (0..n).prop_map(T::RemoveServer).boxed()));
        arms.push((3, (0..n).prop_map(T::MapThing).boxed()));
        arms.push((1, (0..n).prop_map(T::Connect).boxed()));
        arms.push((1, (0..n).prop_map(T::Disconnect).boxed()));
        arms.push((
            1,
            (0..n)
                .prop_map(|server| T::SendFailed {
                    server,
                    request: None,
                })
                .boxed(),
        ));
        arms.push((
            1,
            (0..n, any::<bool>())
                .prop_map(|(server, latest)| T::HandshakeReply { server, latest })
                .boxed(),
        ));
        arms.push((
            1,
            (0..n, foreign_id())
                .prop_map(|(server, id)| T::Foreign { server, id })
                .boxed(),
        ));
        arms.push((
            1,
            (0..n, bad())
                .prop_map(|(server, bad)| T::Malformed { server, bad })
                .boxed(),
        ));
    }
    let in_state = |pred: fn(ServerState) -> bool| -> Vec<usize> {
        alive
            .iter()
            .copied()
            .filter(|&i| pred(s.servers[i].state))
            .collect()
    };
    let connecting = in_state(|st| st == ServerState::Connecting);
    if !connecting.is_empty() {
        arms.push((8, select(connecting).prop_map(T::Connect).boxed()));
    }
    let answering = |i: &usize| !s.servers[*i].silent;
    let handshaking: Vec<usize> = in_state(|st| matches!(st, ServerState::Handshaking { .. }))
        .into_iter()
        .filter(answering)
        .collect();
    if !handshaking.is_empty() {
        arms.push((
            8,
            (select(handshaking), any::<bool>())
                .prop_map(|(server, latest)| T::HandshakeReply { server, latest })
                .boxed(),
        ));
    }
    let up = in_state(|st| matches!(st, ServerState::Handshaking { .. } | ServerState::Ready));
    if !up.is_empty() {
        arms.push((1, select(up.clone()).prop_map(T::Disconnect).boxed()));
    }
    let can_fall_silent: Vec<usize> = up.into_iter().filter(answering).collect();
    if !can_fall_silent.is_empty() {
        arms.push((1, select(can_fall_silent).prop_map(T::Silence).boxed()));
    }
    // Mostly servers with requests in flight: the case the busy-server probe is for.
    let busy: Vec<usize> = in_state(|st| st == ServerState::Ready)
        .into_iter()
        .filter(|&i| answering(&i) && s.load(i).2 > 0)
        .collect();
    if !busy.is_empty() {
        arms.push((4, select(busy).prop_map(T::Silence).boxed()));
    }

    let mapped: Vec<usize> = (0..s.things.len())
        .filter(|&j| s.things[j].mapped)
        .collect();
    if !mapped.is_empty() {
        arms.push((
            16,
            (select(mapped), timeout_ms(), oneway())
                .prop_map(|(thing, timeout_ms, oneway)| T::Start {
                    thing,
                    timeout_ms,
                    oneway,
                })
                .boxed(),
        ));
    }
    if !s.things.is_empty() {
        arms.push((1, (0..s.things.len()).prop_map(T::UnmapThing).boxed()));
        arms.push((
            1,
            (0..s.things.len(), timeout_ms(), oneway())
                .prop_map(|(thing, timeout_ms, oneway)| T::Start {
                    thing,
                    timeout_ms,
                    oneway,
                })
                .boxed(),
        ));
    }

    let sent: Vec<(usize, usize)> = (0..s.requests.len())
        .filter(|&k| s.requests[k].status == Status::Sent)
        .map(|k| (k, s.requests[k].server))
        .collect();
    let answered: Vec<(usize, usize)> = sent
        .iter()
        .copied()
        .filter(|(_, server)| answering(server))
        .collect();
    if !answered.is_empty() {
        arms.push((
            12,
            (select(answered), kind())
                .prop_map(|((request, _), kind)| T::Reply {
                    request,
                    kind,
                    via: None,
                })
                .boxed(),
        ));
    }
    if !sent.is_empty() {
        arms.push((
            1,
            select(sent.clone())
                .prop_map(|(k, server)| T::SendFailed {
                    server,
                    request: Some(k),
                })
                .boxed(),
        ));
        if n > 1 {
            arms.push((
                1,
                (select(sent), kind(), 0..n)
                    .prop_map(|((request, _), kind, via)| T::Reply {
                        request,
                        kind,
                        via: Some(via),
                    })
                    .boxed(),
            ));
        }
    }
    let cancellable: Vec<usize> = (0..s.requests.len())
        .filter(|&k| s.requests[k].id_known && s.requests[k].status.live())
        .collect();
    if !cancellable.is_empty() {
        arms.push((4, select(cancellable).prop_map(T::Cancel).boxed()));
    }
    let known: Vec<usize> = (0..s.requests.len())
        .filter(|&k| s.requests[k].id_known)
        .collect();
    if !known.is_empty() {
        arms.push((1, select(known.clone()).prop_map(T::Cancel).boxed()));
        arms.push((
            1,
            (select(known), kind())
                .prop_map(|(request, kind)| T::Reply {
                    request,
                    kind,
                    via: None,
                })
                .boxed(),
        ));
    }
    let ended: Vec<usize> = (0..s.requests.len())
        .filter(|&k| !s.requests[k].status.live())
        .collect();
    if !ended.is_empty() {
        // Duplicate and late replies.
        arms.push((
            3,
            (select(ended), kind())
                .prop_map(|(request, kind)| T::Reply {
                    request,
                    kind,
                    via: None,
                })
                .boxed(),
        ));
    }
    Union::new_weighted(arms).boxed()
}
