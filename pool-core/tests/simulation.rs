//! Seeded, deterministic simulation of the pool: fake hololinked servers
//! and a lossy link on virtual time, driven by a loop that follows the pool's polling contract.
//! No threads, no sleeping, no sockets, no wall clock: every run of a seed is the same run.

mod sim;

use std::collections::HashSet;

use pool_core::pool::{
    Config, Dropped, LostReason, Outcome, RequestId, ServerState, StartErrorKind, ThingId,
};
use pool_core::wire::TimeoutKind;
use pool_core::{Duration, Instant};
use sim::{
    at, default_sim, ms, reply_frames, run_until_ready, Answer, Behaviour, Done, LinkCfg, Note,
    RoutedKind, Sim,
};

// ===== scenarios ==================================================================================

/// 1. Several servers, several Things each: every request gets `Reply` exactly once.
#[test]
fn happy_path_many_servers_many_things() {
    for seed in 1..=4 {
        let link = LinkCfg {
            latency: 2_000,
            jitter: 3_000,
            loss: 0.0,
            dup: 0.0,
        };
        let mut sim = default_sim(seed, 256, link);
        let mut things = Vec::new();
        for (name, names) in [
            ("spectrometer", &["spec-1", "spec-2", "spec-3"][..]),
            ("camera", &["cam-1", "cam-2"][..]),
            ("stage", &["stage-x", "stage-y", "stage-z", "stage-r"][..]),
        ] {
            let behaviour = Behaviour {
                delay: (1_000, 20_000),
                ..Behaviour::ok(1)
            };
            things.extend(sim.add_server(name, behaviour, names).1);
        }
        // Some requests before any server is ready, the rest spread over time.
        for i in 0..200u64 {
            if i >= 40 {
                let gap = sim.rng.below(5_000);
                sim.run_until(sim.now + Duration(gap));
            }
            let thing = things[sim.rng.below(things.len() as u64) as usize];
            sim.request(thing, Some(Duration::from_secs(10)), false)
                .expect("room");
        }
        assert!(
            sim.run_while(sim.now + Duration::from_secs(20), |s| s.pool.in_flight()
                > 0)
        );
        assert_eq!(sim.done.len(), 200);
        assert!(sim
            .done
            .iter()
            .all(|d| d.outcome == Outcome::Reply && d.via_reply));
        sim.check_quiescent();
        let stats = sim.pool.stats();
        assert_eq!((stats.started, stats.ended, stats.replies), (200, 200, 200));
        // Many-to-one: every server got exactly the requests for its own Things.
        let per_server: usize = sim.servers.iter().map(|s| s.got_requests.len()).sum();
        assert_eq!(per_server, 200);
        assert!(sim.servers.iter().all(|s| !s.got_requests.is_empty()));
    }
}

/// 2. Requests wait for the HANDSHAKE reply; HANDSHAKEs are resent at ≤500 ms with fresh ids.
#[test]
fn requests_wait_for_handshake_and_handshakes_repeat() {
    for (seed, interval) in [
        (1, None),
        (2, Some(ms(200))),
        (3, Some(Duration::from_secs(2))),
    ] {
        let mut config = Config::default();
        if let Some(interval) = interval {
            config.handshake_interval = interval;
        }
        let expected_gap = interval.unwrap_or(ms(500)).min(ms(500));
        let mut sim = Sim::new(seed, 16, config, LinkCfg::perfect(1));
        let late = Behaviour {
            handshake_from: Some(at(1800)),
            ..Behaviour::ok(10)
        };
        let (srv, things) = sim.add_server("late-starter", late, &["thing-a", "thing-b"]);
        let ids: Vec<RequestId> = (0..6)
            .map(|i| {
                sim.request(things[i % 2], Some(Duration::from_secs(10)), false)
                    .unwrap()
            })
            .collect();
        sim.run_until(at(1000));
        let server = sim.servers[srv].id;
        assert!(matches!(
            sim.pool.server_state(server),
            Some(ServerState::Handshaking { .. })
        ));
        assert_eq!(sim.pool.server_load(server), Some((6, 0, 0)));
        assert!(sim.request_txs(srv).is_empty());
        sim.run_until(at(5000));

        let ready = sim.notes_of(|n| *n == Note::Ready(srv));
        assert_eq!(ready.len(), 1);
        let ready_at = ready[0].0;
        let txs = sim.request_txs(srv);
        assert_eq!(txs.len(), 6);
        for tx in &txs {
            assert_eq!(
                tx.state,
                Some(ServerState::Ready),
                "request sent to a server not ready"
            );
            assert!(tx.at >= ready_at);
        }
        for id in ids {
            assert_eq!(sim.outcome_by_id(id).unwrap().outcome, Outcome::Reply);
        }
        let handshakes = sim.handshake_txs(srv);
        assert!(handshakes.len() >= 3, "{handshakes:?}");
        assert_eq!(handshakes[0].at, Instant::ZERO + sim.connect_delay);
        let unique: HashSet<&str> = handshakes.iter().map(|t| t.message_id.as_str()).collect();
        assert_eq!(
            unique.len(),
            handshakes.len(),
            "each HANDSHAKE has a fresh id"
        );
        for pair in handshakes.windows(2) {
            assert_eq!(pair[1].at.saturating_since(pair[0].at), expected_gap);
        }
        assert!(
            handshakes.iter().all(|t| t.at < ready_at),
            "no HANDSHAKE once ready"
        );
        assert!(handshakes.last().unwrap().at >= at(1800));
        sim.check_quiescent();
    }
}

/// 3. Client deadlines: `Timeout{sent}` at exactly the deadline; a late reply is dropped.
#[test]
fn client_deadline_and_late_reply() {
    let mut sim = default_sim(7, 16, LinkCfg::perfect(1));
    let (silent, t_silent) =
        sim.add_server("silent", Behaviour::ok(1).answering(Answer::Drop), &["s"]);
    let (slow, t_slow) = sim.add_server("slow", Behaviour::ok(3000), &["w"]);
    let (_mute, t_mute) = sim.add_server("mute", Behaviour::mute(), &["m"]);
    run_until_ready(&mut sim, &[silent, slow]);
    sim.run_until(at(100));
    let deadline = at(100) + Duration::from_secs(2);
    let r_silent = sim
        .request(t_silent[0], Some(Duration::from_secs(2)), false)
        .unwrap();
    let r_slow = sim
        .request(t_slow[0], Some(Duration::from_secs(2)), false)
        .unwrap();
    let r_mute = sim
        .request(t_mute[0], Some(Duration::from_secs(2)), false)
        .unwrap();

    sim.run_until(deadline - Duration(1));
    sim.tick(deadline - Duration(1));
    assert!(sim.done.is_empty(), "nothing ends before its deadline");
    assert!(sim.pool.poll_timeout().is_some_and(|t| t <= deadline));
    sim.run_until(deadline);
    for (id, sent) in [(r_silent, true), (r_slow, true), (r_mute, false)] {
        let done = sim.outcome_by_id(id).expect("ended at the deadline");
        assert_eq!(done.outcome, Outcome::Timeout { sent });
        assert_eq!(done.at, deadline);
        assert!(!sim.pool.is_live(id));
    }
    sim.run_until(at(5000));
    // The slow reply (≈3.1 s) arrived after the timeout and was dropped as late.
    assert_eq!(sim.servers[slow].got_requests.len(), 1);
    let late: Vec<_> = sim
        .routed
        .iter()
        .filter(|r| r.1 == slow && r.2 != RoutedKind::Handshake)
        .collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].2, RoutedKind::Dropped(Dropped::Late));
    assert!(late[0].0 > deadline);
    assert_eq!(sim.pool.stats().dropped_late, 1);
    assert_eq!(sim.pool.stats().timeouts, 3);
    sim.check_quiescent();
}

/// 4. Cancel: one `Cancelled`, `false` the second time, the later reply dropped as late.
#[test]
fn cancel_is_final() {
    let mut sim = default_sim(11, 16, LinkCfg::perfect(1));
    let (srv, things) = sim.add_server("slow", Behaviour::ok(500), &["t"]);
    let (_mute, mute_things) = sim.add_server("mute", Behaviour::mute(), &["m"]);
    run_until_ready(&mut sim, &[srv]);
    sim.run_until(at(100));
    let sent = sim
        .request(things[0], Some(Duration::from_secs(5)), false)
        .unwrap();
    assert!(sim.sent_ids.contains(&sent));
    let waiting = sim
        .request(mute_things[0], Some(Duration::from_secs(5)), false)
        .unwrap();
    sim.run_until(at(200));
    assert!(sim.cancel(sent));
    assert!(sim.cancel(waiting));
    for id in [sent, waiting] {
        let done = sim.outcome_by_id(id).unwrap();
        assert_eq!((done.outcome, done.at), (Outcome::Cancelled, at(200)));
        assert!(!sim.cancel(id), "cancel is false once ended");
        assert!(!sim.pool.is_live(id));
    }
    assert!(
        !sim.sent_ids.contains(&waiting),
        "a cancelled waiting request never goes out"
    );
    sim.run_until(at(2000));
    assert_eq!(sim.routed_count(RoutedKind::Dropped(Dropped::Late)), 1);
    assert_eq!(sim.pool.stats().dropped_late, 1);
    // Cancelling a request that already got its reply is refused too.
    let replied = sim
        .request(things[0], Some(Duration::from_secs(5)), false)
        .unwrap();
    sim.run_until(at(3000));
    assert_eq!(sim.outcome_by_id(replied).unwrap().outcome, Outcome::Reply);
    assert!(!sim.cancel(replied));
    assert_eq!(sim.pool.stats().cancelled, 2);
    sim.check_quiescent();
}

/// 5. ABA: duplicates and replayed old ids never reach the slot's new occupant.
#[test]
fn duplicates_and_replays_never_reach_the_new_occupant() {
    let mut sim = default_sim(5, 1, LinkCfg::perfect(10));
    let twice = Behaviour {
        dup: 1.0,
        dup_gap: ms(30),
        ..Behaviour::ok(100)
    };
    let (srv, things) = sim.add_server("echo-twice", twice, &["t"]);
    run_until_ready(&mut sim, &[srv]);
    let mut ids = Vec::new();
    let mut replays = 0;
    for k in 0..20usize {
        let id = sim
            .request(things[0], Some(Duration::from_secs(5)), false)
            .expect("the one slot is free");
        assert_eq!(id.slot(), 0);
        ids.push(id);
        if k >= 2 {
            // Replay the reply of a request two generations back while `id` is in flight.
            let old = sim.pool.message_id(ids[k - 2]);
            assert_ne!(old, sim.pool.message_id(id));
            let routed = sim.inject(srv, reply_frames("REPLY", old.as_str(), b"0"));
            assert_eq!(routed, RoutedKind::Dropped(Dropped::Late));
            assert!(sim.pool.is_live(id));
            replays += 1;
        }
        let limit = sim.now + Duration::from_secs(5);
        assert!(sim.run_while(limit, |s| s.done.len() <= k));
    }
    sim.run_until(sim.now + Duration::from_secs(1));
    let unique: HashSet<RequestId> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 20, "a fresh generation per occupant");
    for &id in &ids {
        let done = sim.outcome_by_id(id).unwrap();
        assert_eq!(done.outcome, Outcome::Reply);
        assert_eq!(done.serial, sim.serial_of(id));
    }
    // Every server duplicate was dropped; all but the last arrived while a successor was live.
    let late: Vec<Instant> = sim
        .routed
        .iter()
        .filter(|r| r.2 == RoutedKind::Dropped(Dropped::Late))
        .map(|r| r.0)
        .collect();
    assert_eq!(late.len(), 20 + replays);
    let during_successor = late
        .iter()
        .filter(|&&t| {
            sim.reqs
                .values()
                .any(|s| s.at <= t && sim.outcome_by_id(s.id.unwrap()).unwrap().at > t)
        })
        .count();
    assert!(during_successor >= 19 + replays, "{during_successor}");
    sim.check_quiescent();
}

/// 6. A server dies mid-flight, backs off exponentially (capped), restarts, and serves again.
#[test]
fn server_death_backoff_and_restart() {
    let config = Config {
        backoff_min: ms(100),
        backoff_max: ms(1000),
        // Exact delays below (the jitter keeps each within [half, full]; see the unit tests).
        backoff_jitter: false,
        ..Config::default()
    };
    let mut sim = Sim::new(3, 64, config, LinkCfg::perfect(1));
    let (a, a_things) = sim.add_server("alpha", Behaviour::ok(500), &["a1", "a2"]);
    let (b, b_things) = sim.add_server("beta", Behaviour::ok(50), &["b1"]);
    run_until_ready(&mut sim, &[a, b]);
    sim.run_until(at(100));
    let deadline = Some(Duration::from_secs(30));
    let a_first: Vec<_> = (0..5)
        .map(|i| sim.request(a_things[i % 2], deadline, false).unwrap())
        .collect();
    let mut b_reqs: Vec<_> = (0..5)
        .map(|_| sim.request(b_things[0], deadline, false).unwrap())
        .collect();
    sim.run_until(at(300));
    assert_eq!(
        sim.servers[a].got_requests.len(),
        5,
        "in flight at the server"
    );

    sim.kill(a, Some(Duration::from_secs(3))); // back at 3.3 s
    for &id in &a_first {
        let done = sim.outcome_by_id(id).unwrap();
        assert_eq!(
            (done.outcome, done.at),
            (Outcome::Disconnected, at(300)),
            "fails at the disconnect input"
        );
    }
    assert_eq!(sim.notes_of(|n| matches!(n, Note::Lost(..))).len(), 1);
    sim.run_until(at(400));
    let a_later: Vec<_> = (0..3)
        .map(|i| sim.request(a_things[i % 2], deadline, false).unwrap())
        .collect();
    let a_id = sim.servers[a].id;
    assert_eq!(
        sim.pool.server_load(a_id).unwrap().0,
        3,
        "waiting for the reconnect"
    );
    sim.run_until(at(1000));
    b_reqs.extend((0..5).map(|_| sim.request(b_things[0], deadline, false).unwrap()));
    sim.run_until(at(4500));

    // Connect events after the death: die + backoff(0), then + connect delay + backoff(k), capped.
    let connects: Vec<Instant> = sim
        .notes_of(|n| *n == Note::Connect(a))
        .iter()
        .map(|n| n.0)
        .filter(|&t| t > at(300))
        .collect();
    let backoff = |k: u32| ms((100u64 << k).min(1000));
    assert_eq!(connects[0], at(300) + backoff(0));
    for (k, pair) in connects.windows(2).enumerate() {
        assert_eq!(
            pair[1].saturating_since(pair[0]),
            sim.connect_delay + backoff(k as u32 + 1),
            "{connects:?}"
        );
    }
    assert_eq!(connects.len(), 6, "{connects:?}");
    assert!(
        connects[4].saturating_since(connects[3]) == connects[5].saturating_since(connects[4]),
        "capped"
    );
    let ready_again = sim.notes_of(|n| *n == Note::Ready(a)).last().unwrap().0;
    assert!(ready_again > at(3300), "ready only after the restart");
    for &id in &a_later {
        assert_eq!(sim.outcome_by_id(id).unwrap().outcome, Outcome::Reply);
        let tx = sim
            .txs
            .iter()
            .find(|t| t.request.is_some_and(|r| r.0 == id))
            .unwrap();
        assert!(tx.at >= ready_again && tx.state == Some(ServerState::Ready));
    }
    for &id in &b_reqs {
        assert_eq!(sim.outcome_by_id(id).unwrap().outcome, Outcome::Reply);
    }
    assert!(
        sim.notes_of(|n| matches!(n, Note::Lost(s, _) if *s == b))
            .is_empty(),
        "beta untouched"
    );
    assert_eq!(
        sim.servers[a].got_requests.len(),
        8,
        "Disconnected requests are never resent"
    );

    // The backoff starts over after a successful handshake.
    sim.kill(a, Some(ms(50)));
    let died = sim.now;
    let extra = sim.request(a_things[0], deadline, false).unwrap();
    sim.run_until(died + Duration::from_secs(2));
    let first = sim
        .notes_of(|n| *n == Note::Connect(a))
        .iter()
        .map(|n| n.0)
        .find(|&t| t > died)
        .unwrap();
    assert_eq!(first, died + backoff(0));
    assert_eq!(sim.outcome_by_id(extra).unwrap().outcome, Outcome::Reply);
    sim.check_quiescent();
}

/// Random traffic (loss, duplication, reordering, cancels, restarts, fan-outs) until `requests`
/// have started; returns the simulation and the number of fan-outs started.
fn soak(seed: u64, requests: usize) -> (Sim, usize) {
    let link = LinkCfg {
        latency: 1_000,
        jitter: 8_000,
        loss: 0.03,
        dup: 0.03,
    };
    let config = Config {
        handshake_timeout: seed.is_multiple_of(2).then(|| ms(1500)),
        backoff_min: ms(20),
        backoff_max: ms(400),
        ..Config::default()
    };
    let mut sim = Sim::new(seed, 128, config, link);
    let answers = vec![
        (Answer::Reply, 80),
        (Answer::Exception, 5),
        (Answer::Invalid, 3),
        (Answer::Timeout(TimeoutKind::Execution), 3),
        (Answer::Timeout(TimeoutKind::Invokation), 3),
        (Answer::Drop, 6),
    ];
    let mut things = Vec::new();
    for (name, names) in [
        ("s0", ["s0-a", "s0-b"]),
        ("s1", ["s1-a", "s1-b"]),
        ("s2", ["s2-a", "s2-b"]),
        ("s3", ["s3-a", "s3-b"]),
    ] {
        let b = Behaviour {
            delay: (1_000, 50_000),
            answers: answers.clone(),
            dup: 0.05,
            oneway_timeout: true,
            ..Behaviour::ok(1)
        };
        things.extend(sim.add_server(name, b, &names).1);
    }
    let mut live: Vec<RequestId> = Vec::new();
    let mut fanouts = 0;
    while sim.reqs.len() < requests {
        let gap = sim.rng.below(6_000);
        sim.run_until(sim.now + Duration(gap));
        let roll = sim.rng.below(100);
        if roll < 85 {
            let thing = things[sim.rng.below(things.len() as u64) as usize];
            let deadline = ms(sim.rng.range(50, 2000));
            let oneway = sim.rng.chance(0.05);
            if let Ok(id) = sim.request(thing, Some(deadline), oneway) {
                live.push(id);
            }
        } else if roll < 94 && !live.is_empty() {
            let id = live.swap_remove(sim.rng.below(live.len() as u64) as usize);
            let was_live = sim.pool.is_live(id);
            assert_eq!(sim.cancel(id), was_live);
        } else if roll < 95 {
            let srv = sim.rng.below(sim.servers.len() as u64) as usize;
            if sim.servers[srv].up {
                let restart = ms(sim.rng.range(50, 800));
                sim.kill(srv, Some(restart));
            }
        } else if roll < 96 && sim.fanout(None, ms(1500)).is_ok() {
            fanouts += 1;
        }
    }
    (sim, fanouts)
}

/// 7. Lossy link soak: loss, duplication, reordering, cancels and restarts on several seeds.
#[test]
fn lossy_link_soak() {
    for seed in 1..=4u64 {
        let (mut sim, fanouts) = soak(seed, 2000);
        let drained = sim.run_while(sim.now + Duration::from_secs(30), |s| {
            s.pool.in_flight() > 0
        });
        assert!(drained, "seed {seed}: requests outlived their deadlines");
        sim.run_until(sim.now + Duration::from_secs(2));
        sim.check_quiescent();
        assert_eq!(
            sim.notes_of(|n| matches!(n, Note::FanoutDone(_))).len(),
            fanouts
        );
        let stats = *sim.pool.stats();
        assert!(stats.replies > 1000, "seed {seed}: {stats:?}");
        assert!(
            stats.timeouts > 0 && stats.cancelled > 0 && stats.oneway_sent > 0,
            "{stats:?}"
        );
        assert!(
            stats.dropped_late > 0 && stats.servers_lost > 0,
            "{stats:?}"
        );
    }
}

/// 8. Fan-out over mixed servers: one outcome per Thing, then exactly one `FanoutDone`.
#[test]
fn fanout_over_mixed_servers() {
    let mut sim = default_sim(8, 32, LinkCfg::perfect(1));
    let (a, _) = sim.add_server("good", Behaviour::ok(20), &["a1", "a2"]);
    let (b, _) = sim.add_server(
        "raises",
        Behaviour::ok(20).answering(Answer::Exception),
        &["b1"],
    );
    let (c, _) = sim.add_server("mute", Behaviour::mute(), &["c1", "c2"]);
    let (d, _) = sim.add_server("doomed", Behaviour::ok(300), &["d1"]);
    let (e, _) = sim.add_server(
        "busy",
        Behaviour::ok(20).answering(Answer::Timeout(TimeoutKind::Invokation)),
        &["e1"],
    );
    run_until_ready(&mut sim, &[a, b, d, e]);
    sim.run_until(at(100));
    let fanout = sim.fanout(None, Duration::from_secs(1)).unwrap();
    sim.run_until(at(200));
    sim.kill(d, None);
    sim.run_until(at(3000));

    let members: Vec<Done> = sim
        .done
        .iter()
        .filter(|x| x.fanout == Some(fanout))
        .copied()
        .collect();
    assert_eq!(members.len(), sim.pool.things().count());
    let things: HashSet<ThingId> = members.iter().map(|m| m.thing).collect();
    assert_eq!(things.len(), members.len(), "one outcome per Thing");
    for m in &members {
        let expected = match sim.thing_names[&m.thing].1 {
            s if s == a => Outcome::Reply,
            s if s == b => Outcome::Exception,
            s if s == c => Outcome::Timeout { sent: false },
            s if s == d => Outcome::Disconnected,
            _ => Outcome::ServerTimeout(TimeoutKind::Invokation),
        };
        assert_eq!(m.outcome, expected, "{}", sim.thing_names[&m.thing].0);
    }
    let done_notes = sim.notes_of(|n| matches!(n, Note::FanoutDone(_)));
    assert_eq!(done_notes.len(), 1);
    assert_eq!(done_notes[0].2, Note::FanoutDone(fanout));
    assert!(
        done_notes[0].1 > members.iter().map(|m| m.seq).max().unwrap(),
        "after the last member"
    );
    assert_eq!(
        done_notes[0].0,
        at(1100),
        "the mute server's members time out last"
    );

    // A listed fan-out over two Things.
    let listed: Vec<ThingId> = sim
        .thing_names
        .iter()
        .filter(|(_, v)| v.1 == a || v.1 == b)
        .map(|(&t, _)| t)
        .collect();
    let second = sim.fanout(Some(&listed), Duration::from_secs(1)).unwrap();
    sim.run_until(at(4000));
    assert_eq!(
        sim.done.iter().filter(|x| x.fanout == Some(second)).count(),
        3
    );
    assert_eq!(sim.notes_of(|n| *n == Note::FanoutDone(second)).len(), 1);
    sim.check_quiescent();
}

/// 9. Oneway: ends `Sent` at transmit; an unsolicited TIMEOUT for it is dropped and counted.
#[test]
fn oneway_ends_at_transmit() {
    let mut sim = default_sim(9, 16, LinkCfg::perfect(1));
    let b = Behaviour {
        oneway_timeout: true,
        ..Behaviour::ok(100)
    };
    let (srv, things) = sim.add_server("fire-and-forget", b, &["t"]);
    // One oneway request before readiness (it waits), one after.
    let early = sim
        .request(things[0], Some(Duration::from_secs(5)), true)
        .unwrap();
    run_until_ready(&mut sim, &[srv]);
    sim.run_until(at(100));
    let later = sim
        .request(things[0], Some(Duration::from_secs(5)), true)
        .unwrap();
    for id in [early, later] {
        let done = sim.outcome_by_id(id).unwrap();
        let tx = sim
            .txs
            .iter()
            .find(|t| t.request.is_some_and(|r| r.0 == id))
            .unwrap();
        assert_eq!(done.outcome, Outcome::Sent);
        assert!(!done.via_reply);
        assert_eq!(done.at, tx.at, "ends when handed to the transport");
        assert!(done.seq > tx.seq);
    }
    sim.run_until(at(1000));
    assert_eq!(sim.servers[srv].got_requests.len(), 2);
    assert_eq!(
        sim.routed_count(RoutedKind::Dropped(Dropped::Late)),
        2,
        "unsolicited TIMEOUTs"
    );
    let stats = sim.pool.stats();
    assert_eq!(
        (stats.oneway_sent, stats.dropped_late, stats.server_timeouts),
        (2, 2, 0)
    );
    sim.check_quiescent();
}

/// 10. A full pool refuses with `Full` and hands the value back; a polled outcome frees a slot.
#[test]
fn full_pool_refuses_then_recovers() {
    let mut sim = default_sim(10, 4, LinkCfg::perfect(1));
    let (srv, things) = sim.add_server(
        "silent",
        Behaviour::ok(1).answering(Answer::Drop),
        &["t", "u"],
    );
    run_until_ready(&mut sim, &[srv]);
    let ids: Vec<_> = (0..4)
        .map(|_| {
            sim.request(things[0], Some(Duration::from_secs(5)), false)
                .unwrap()
        })
        .collect();
    assert_eq!(sim.pool.free_slots(), 0);
    let err = sim
        .request(things[1], Some(Duration::from_secs(5)), false)
        .unwrap_err();
    assert_eq!(err.kind, StartErrorKind::Full);
    assert_eq!((err.user.serial, err.user.thing), (sim.next_serial, "u"));
    assert_eq!(
        sim.fanout(None, Duration::from_secs(1)),
        Err(StartErrorKind::Full)
    );

    // Cancelled but not yet polled: the slot is still taken.
    assert!(sim.pool.cancel(ids[0], sim.now));
    assert_eq!(sim.pool.free_slots(), 0);
    assert_eq!(
        sim.start_raw(things[0], None, false).unwrap_err().kind,
        StartErrorKind::Full
    );
    sim.drain();
    assert_eq!(
        sim.outcome_by_id(ids[0]).unwrap().outcome,
        Outcome::Cancelled
    );
    assert_eq!(sim.pool.free_slots(), 1);
    let again = sim
        .request(things[1], Some(Duration::from_secs(5)), false)
        .expect("a slot is free again");
    assert!(sim.pool.is_live(again));
    assert_eq!(sim.pool.stats().refused, 3);
    sim.run_until(sim.now + Duration::from_secs(6));
    assert_eq!(sim.pool.stats().timeouts, 4);
    sim.check_quiescent();
}

/// 11. A reply for server A's request arriving on server B is dropped; A's reply still lands.
#[test]
fn reply_on_the_wrong_server_is_dropped() {
    let mut sim = default_sim(12, 16, LinkCfg::perfect(1));
    let (a, a_things) = sim.add_server("alpha", Behaviour::ok(200), &["a"]);
    let (b, _) = sim.add_server("beta", Behaviour::ok(10), &["b"]);
    let (c, _) = sim.add_server("gamma", Behaviour::ok(10), &["c"]);
    run_until_ready(&mut sim, &[a, b, c]);
    sim.run_until(at(100));
    let id = sim
        .request(a_things[0], Some(Duration::from_secs(5)), false)
        .unwrap();
    sim.run_until(at(150));
    let text = sim.pool.message_id(id);
    assert_eq!(
        sim.inject(b, reply_frames("REPLY", text.as_str(), b"666")),
        RoutedKind::Dropped(Dropped::WrongServer)
    );
    assert!(sim.pool.is_live(id));
    let foreign = reply_frames("REPLY", "11111111-2222-4333-8444-555555555555", b"1");
    assert_eq!(
        sim.inject(a, foreign),
        RoutedKind::Dropped(Dropped::Foreign)
    );
    let mut short = reply_frames("REPLY", text.as_str(), b"1");
    short.pop();
    assert_eq!(sim.inject(a, short), RoutedKind::Malformed);
    sim.remove_server(c);
    assert_eq!(
        sim.inject(c, reply_frames("REPLY", text.as_str(), b"1")),
        RoutedKind::Dropped(Dropped::UnknownServer)
    );
    assert!(sim.pool.is_live(id));
    sim.run_until(at(1000));
    let done = sim.outcome_by_id(id).unwrap();
    assert_eq!((done.outcome, done.via_reply), (Outcome::Reply, true));
    assert!(done.at > at(300));
    let stats = sim.pool.stats();
    assert_eq!(
        (
            stats.dropped_wrong_server,
            stats.dropped_foreign,
            stats.malformed,
            stats.dropped_unknown_server
        ),
        (1, 1, 1, 1)
    );
    sim.check_quiescent();
}

/// A transmit buffer too small even for a HANDSHAKE loses the server (`SendFailed`); reconnects
/// must still wait out the exponential backoff (rule 5), measured from the present: with the
/// default equal jitter, at least half of `backoff_min`.
#[test]
fn handshake_that_does_not_fit_still_backs_off() {
    let mut sim = default_sim(13, 4, LinkCfg::perfect(1));
    sim.buf = vec![0; 64];
    sim.run_until(at(10_000));
    let (srv, _) = sim.add_server("tiny-buffer", Behaviour::ok(1), &["t"]);
    sim.run_until(at(12_000));
    let lost = sim.notes_of(|n| matches!(n, Note::Lost(..)));
    assert_eq!(lost[0].2, Note::Lost(srv, LostReason::SendFailed));
    let connects: Vec<Instant> = sim
        .notes_of(|n| *n == Note::Connect(srv))
        .iter()
        .map(|n| n.0)
        .collect();
    for pair in connects.windows(2) {
        let gap = pair[1].saturating_since(pair[0]);
        assert!(
            gap >= sim.connect_delay + ms(50),
            "reconnect after {gap:?}: {connects:?}"
        );
    }
}

/// Same seed, same run: the pool and the simulation have no hidden nondeterminism.
#[test]
fn same_seed_same_run() {
    let trace = |seed| {
        let (sim, _) = soak(seed, 300);
        let done: Vec<_> = sim
            .done
            .iter()
            .map(|d| (d.at, d.serial, d.outcome))
            .collect();
        let txs: Vec<_> = sim
            .txs
            .iter()
            .map(|t| (t.at, t.message_id.clone()))
            .collect();
        (done, txs, *sim.pool.stats())
    };
    assert_eq!(trace(42), trace(42));
    assert_ne!(trace(42).0, trace(43).0);
}
