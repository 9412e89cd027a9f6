//! The system under test: `Subscriptions` plus what a driver and its consumers would remember
//! (each subscription's handle by model index, the last `seq` each consumer read and the lag
//! reported since), how each transition is applied to it (`Sut::run`), and the checks after
//! every step (`EventsTest::apply`) and on the state in between (`EventsTest::check_invariants`).
//!
//! Invariants (each is asserted, a failure names the transition):
//! * after every step `Subscriptions` produced exactly what the model predicted: the return
//!   value of the command or input (each `handle_event` result, each popped item with its
//!   `seq`, header and payload frames, the reconnect delay), the servers `poll_change` reported
//!   and the subscriptions `poll_woken` woke (compared as sets);
//! * `poll_change` reports a server at most once and `poll_woken` a subscription at most once
//!   per drain, and a woken subscription is one that exists;
//! * a consumer's events are numbered without holes it was not told of: each event's `seq` is
//!   the last one's plus one plus the `Lagged` counts popped in between;
//! * subscription ids are never reused;
//! * between steps: `stats()` equals the model's counters, `len()` counts the subscriptions
//!   not yet dropped, `wanted(server)` is exactly the model's wanted topics in order,
//!   `is_connected` the model's publisher state, and `queued(id)` each subscription's kept
//!   events.

use std::collections::HashMap;

use pool_core::events::{Item, Pop, Refused, SubscriptionId, Subscriptions};
use proptest_state_machine::StateMachineTest;

use crate::config;
use crate::reference::{EventItem, Expect, Model, Popped, Refusal, StepOut, SubsModel};
use crate::transition::{event_frames, payloads, Transition, EVENT_TOPICS, SERVERS, SUB_TOPICS};

pub(crate) struct Sut {
    pub(crate) subs: Subscriptions<u8, Vec<u8>>,
    /// Handles, by model index.
    pub(crate) ids: Vec<SubscriptionId>,
    pub(crate) index: HashMap<SubscriptionId, usize>,
    /// Per subscription: the `seq` of the last event its consumer read, and the lag reported
    /// after it.
    pub(crate) read: Vec<(u64, u64)>,
    /// Events handed to `handle_event` so far.
    pub(crate) sent: u64,
}

impl Sut {
    fn new() -> Self {
        Sut {
            subs: Subscriptions::new(config()),
            ids: Vec::new(),
            index: HashMap::new(),
            read: Vec::new(),
            sent: 0,
        }
    }

    fn handle(&mut self, server: u8, frames: &[Vec<u8>]) -> Result<usize, Refusal> {
        self.sent += 1;
        self.subs.handle_event(server, frames).map_err(|e| match e {
            Refused::Malformed(m) => Refusal::Malformed(m),
            Refused::Unmatched => Refusal::Unmatched,
        })
    }

    fn pop(&mut self, k: usize) -> Popped {
        let (last, lag) = &mut self.read[k];
        match self.subs.pop(self.ids[k]) {
            Pop::Item(Item::Event(e)) => {
                assert_eq!(
                    e.seq,
                    *last + *lag + 1,
                    "subscription {k}: an event numbered past a hole nobody reported"
                );
                *last = e.seq;
                *lag = 0;
                Popped::Event(EventItem {
                    seq: e.seq,
                    header: e.header,
                    payload: e.payload,
                    preserialized: e.preserialized,
                })
            }
            Pop::Item(Item::Lagged(n)) => {
                assert!(n > 0, "subscription {k}: Lagged(0)");
                *lag += n;
                Popped::Lagged(n)
            }
            Pop::Item(Item::Disconnected) => Popped::Disconnected,
            Pop::Item(Item::Reconnected) => Popped::Reconnected,
            Pop::Empty => Popped::Empty,
            Pop::Ended => Popped::Ended,
            Pop::Unknown => Popped::Unknown,
        }
    }

    fn run(&mut self, t: &Transition) -> Expect {
        match *t {
            Transition::Subscribe {
                server,
                topic,
                queue,
            } => Expect::Subscribe(self.subs.subscribe(server, SUB_TOPICS[topic], queue).map(
                |id| {
                    assert!(!self.index.contains_key(&id), "id {id:?} reused");
                    self.ids.push(id);
                    self.read.push((0, 0));
                    self.index.insert(id, self.ids.len() - 1);
                    self.ids.len() - 1
                },
            )),
            Transition::Unsubscribe(k) => Expect::Unsubscribe(self.subs.unsubscribe(self.ids[k])),
            Transition::Events {
                server,
                topic,
                shape,
                count,
            } => Expect::Events(
                (0..count)
                    .map(|_| {
                        let (payload, pre) = payloads(self.sent);
                        let frames = event_frames(EVENT_TOPICS[topic], shape, &payload, &pre);
                        self.handle(server, &frames)
                    })
                    .collect(),
            ),
            Transition::Malformed { server, topic, bad } => {
                let frames = bad.frames(EVENT_TOPICS[topic]);
                Expect::Events(vec![self.handle(server, &frames)])
            }
            Transition::Connected(server) => {
                self.subs.handle_connected(server);
                Expect::Nothing
            }
            Transition::Lost(server) => Expect::Lost(self.subs.handle_lost(server)),
            Transition::RemoveServer(server) => {
                self.subs.remove_server(server);
                Expect::Nothing
            }
            Transition::Close => {
                self.subs.close();
                Expect::Nothing
            }
            Transition::Pop { sub, count } => {
                let mut pops = Vec::new();
                for _ in 0..count {
                    let p = self.pop(sub);
                    let last = matches!(p, Popped::Empty | Popped::Ended | Popped::Unknown);
                    pops.push(p);
                    if last {
                        break;
                    }
                }
                Expect::Pops(pops)
            }
            Transition::Hold | Transition::Drain => Expect::Nothing,
        }
    }

    /// The driver's side of the polling contract: `poll_change` until `None`, then
    /// `poll_woken` until `None`.
    fn drain(&mut self, out: &mut StepOut) {
        while let Some(server) = self.subs.poll_change() {
            assert!(
                !out.changed.contains(&server),
                "poll_change reported server {server} twice"
            );
            out.changed.push(server);
        }
        while let Some(id) = self.subs.poll_woken() {
            let k = *self
                .index
                .get(&id)
                .unwrap_or_else(|| panic!("woke an unknown subscription {id:?}"));
            assert!(
                !out.woken.contains(&k),
                "poll_woken reported subscription {k} twice"
            );
            out.woken.push(k);
        }
        out.changed.sort_unstable();
        out.woken.sort_unstable();
    }
}

pub(crate) struct EventsTest;

impl StateMachineTest for EventsTest {
    type SystemUnderTest = Sut;
    type Reference = SubsModel;

    fn init_test(_model: &Model) -> Sut {
        Sut::new()
    }

    fn apply(mut sut: Sut, model: &Model, t: Transition) -> Sut {
        let mut got = StepOut {
            expect: sut.run(&t),
            ..StepOut::default()
        };
        if !model.hold {
            sut.drain(&mut got);
        }
        let want = &model.out;
        assert_eq!(got.expect, want.expect, "what {t:?} returned");
        assert_eq!(got.changed, want.changed, "poll_change after {t:?}");
        assert_eq!(got.woken, want.woken, "poll_woken after {t:?}");
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        let subs = &sut.subs;
        assert_eq!(sut.ids.len(), model.subs.len());
        assert_eq!(sut.sent, model.sent);
        assert_eq!(subs.stats(), model.stats, "stats");
        let existing = model.subs.iter().filter(|s| !s.unsubscribed).count();
        assert_eq!(subs.len(), existing, "len");
        assert_eq!(subs.is_empty(), existing == 0, "is_empty");
        for server in 0..SERVERS {
            let want: Vec<&str> = model.wanted(server).into_iter().collect();
            assert_eq!(
                subs.wanted(server).collect::<Vec<_>>(),
                want,
                "wanted({server})"
            );
            assert_eq!(
                subs.is_connected(server),
                model.pubs.get(&server).is_some_and(|p| p.connected),
                "is_connected({server})"
            );
        }
        for (k, m) in model.subs.iter().enumerate() {
            let want = if m.unsubscribed { 0 } else { m.kept() };
            assert_eq!(subs.queued(sut.ids[k]), want, "queued({k})");
            assert!(want <= m.capacity);
        }
    }
}
