//! What to generate: from each model state, weighted transitions that make interesting cases
//! likely: events mostly for topics someone wants (often in bursts longer than small queues),
//! losses and returns mostly of publishers that have subscriptions, pops mostly of live
//! subscriptions, and now and then a refused subscribe, a bad frame, an unwanted topic, a
//! removed server or a closed pool.
//!
//! Invariants:
//! * generation reads the model and nothing else; what a transition means is decided in
//!   `reference.rs`, so a strategy can only make a case more or less likely, never change what
//!   is asserted;
//! * every transition generated from a state passes `SubsModel::preconditions` on that state;
//! * the first `GOOD_TOPICS` entries of `SUB_TOPICS` and `EVENT_TOPICS` are the same topics,
//!   so a wanted topic's index names it in both.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

use crate::reference::Model;
use crate::transition::{Bad, Shape, Transition, EVENT_TOPICS, GOOD_TOPICS, SERVERS, SUB_TOPICS};

fn shape() -> BoxedStrategy<Shape> {
    prop_oneof![
        4 => Just(Shape::Plain),
        1 => Just(Shape::Tolerant),
        1 => Just(Shape::NoEventId),
        1 => Just(Shape::Duplicates),
    ]
    .boxed()
}

fn bad() -> BoxedStrategy<Bad> {
    select(vec![
        Bad::NoFrames,
        Bad::OneFrame,
        Bad::FourFrames,
        Bad::SixFrames,
        Bad::TopicNotUtf8,
        Bad::Delimiter,
        Bad::HeaderEmpty,
        Bad::HeaderNotJson,
        Bad::HeaderArray,
        Bad::HeaderTrailing,
        Bad::HeaderNotUtf8,
        Bad::HeaderTooDeep,
        Bad::NotAnEvent,
        Bad::NoMessageType,
        Bad::IdMismatch,
        Bad::ContentTypeNumber,
        Bad::ContentTypeLong,
    ])
    .boxed()
}

fn queue_len() -> BoxedStrategy<usize> {
    // `Config::max_queue_len` is 4: 0 and 5 are refused.
    prop_oneof![4 => Just(1usize), 4 => 2usize..=4, 1 => Just(0usize), 1 => Just(5usize)].boxed()
}

fn count() -> BoxedStrategy<usize> {
    prop_oneof![3 => Just(1usize), 1 => 2usize..=6].boxed()
}

pub(crate) fn transitions(s: &Model) -> BoxedStrategy<Transition> {
    use Transition as T;
    let mut arms: Vec<(u32, BoxedStrategy<T>)> = Vec::new();
    let servers = 0..SERVERS;

    arms.push((
        10,
        (
            servers.clone(),
            prop_oneof![8 => 0..GOOD_TOPICS, 1 => GOOD_TOPICS..SUB_TOPICS.len()],
            queue_len(),
        )
            .prop_map(|(server, topic, queue)| T::Subscribe {
                server,
                topic,
                queue,
            })
            .boxed(),
    ));
    arms.push((
        3,
        (servers.clone(), 0..EVENT_TOPICS.len(), shape(), count())
            .prop_map(|(server, topic, shape, count)| T::Events {
                server,
                topic,
                shape,
                count,
            })
            .boxed(),
    ));
    arms.push((
        3,
        (servers.clone(), 0..EVENT_TOPICS.len(), bad())
            .prop_map(|(server, topic, bad)| T::Malformed { server, topic, bad })
            .boxed(),
    ));
    arms.push((2, servers.clone().prop_map(T::Connected).boxed()));
    arms.push((2, servers.clone().prop_map(T::Lost).boxed()));
    arms.push((2, servers.clone().prop_map(T::RemoveServer).boxed()));
    arms.push((1, Just(T::Close).boxed()));
    arms.push((2, Just(T::Hold).boxed()));
    arms.push((3, Just(T::Drain).boxed()));

    let wanted: Vec<(u8, usize)> = s
        .subs
        .iter()
        .filter(|m| m.live())
        .map(|m| {
            let topic = EVENT_TOPICS
                .iter()
                .position(|t| *t == m.topic)
                .expect("a subscribed topic is an event topic");
            (m.server, topic)
        })
        .collect();
    if !wanted.is_empty() {
        arms.push((
            30,
            (select(wanted.clone()), shape(), count())
                .prop_map(|((server, topic), shape, count)| T::Events {
                    server,
                    topic,
                    shape,
                    count,
                })
                .boxed(),
        ));
        let publishers: Vec<u8> = wanted.iter().map(|&(server, _)| server).collect();
        arms.push((8, select(publishers.clone()).prop_map(T::Connected).boxed()));
        arms.push((6, select(publishers).prop_map(T::Lost).boxed()));
    }

    let n = s.subs.len();
    if n > 0 {
        arms.push((
            4,
            (0..n, 1usize..=3)
                .prop_map(|(sub, count)| T::Pop { sub, count })
                .boxed(),
        ));
        arms.push((3, (0..n).prop_map(T::Unsubscribe).boxed()));
    }
    let readable: Vec<usize> = (0..n).filter(|&k| !s.subs[k].unsubscribed).collect();
    if !readable.is_empty() {
        arms.push((
            20,
            (select(readable), prop_oneof![1usize..=2, 1usize..=10])
                .prop_map(|(sub, count)| T::Pop { sub, count })
                .boxed(),
        ));
    }
    Union::new_weighted(arms).boxed()
}
