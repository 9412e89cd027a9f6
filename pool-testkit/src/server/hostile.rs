//! [`Behaviour::Hostile`](crate::Behaviour::Hostile): the bad messages interleaved with a good
//! reply.
//!
//! Invariants:
//! * for every good reply, every [`HostileKind`] is drawn once, in [`HostileKind::ALL`] order,
//!   before anything else is drawn, so which kinds fire depends only on the seed and the number
//!   of good replies so far;
//! * the good reply itself is always sent, once, after the made-up messages that precede it
//!   (only [`HostileKind::Duplicate`] follows it); its header carries `"hostileExtra":true` when
//!   [`HostileKind::ExtraKeys`] fires;
//! * a kind is counted in [`crate::Stats::hostile_sent`] once per message it sends, when it is
//!   sent (a replay with no earlier reply to this client sends nothing and counts nothing;
//!   [`HostileKind::ExtraKeys`] counts once, after the good reply it marks);
//! * the last [`HISTORY_PER_CLIENT`] good replies of each client are kept for replays and
//!   unsolicited timeouts; reseeding keeps them.
//!
//! [`Hostile::replies`] only plans: it returns the [`Step`]s, in order, for the router thread to
//! carry out.

use std::collections::{HashMap, VecDeque};

use pool_core::SplitMix64;

use crate::config::{HostileConfig, HostileKind};
use crate::handling::{OutReply, EXECUTION_TIMEOUT, INVOKATION_TIMEOUT};
use crate::protocol::{self, response_header, uuid4, JSON_CONTENT_TYPE, TEXT_PLAIN};

/// Good replies kept per client identity, for replays.
const HISTORY_PER_CLIENT: usize = 32;

/// One step of a hostile reply, in the order they are carried out.
pub(super) enum Step {
    /// Made-up (or copied) frames, routing frame first, sent as they are.
    Frames(Vec<Vec<u8>>),
    /// The good reply, sent and counted as a protocol reply.
    Good(OutReply),
    /// One more bad message of this kind in the counters.
    Count(HostileKind),
}

/// The hostile mode's state: its PRNG and each client's recent good replies.
pub(super) struct Hostile {
    rng: SplitMix64,
    history: HashMap<Vec<u8>, VecDeque<OutReply>>,
}

impl Default for Hostile {
    fn default() -> Self {
        Hostile {
            rng: SplitMix64::new(0),
            history: HashMap::new(),
        }
    }
}

impl Hostile {
    /// Restarts the PRNG from `seed` (the history stays).
    pub(super) fn reseed(&mut self, seed: u64) {
        self.rng = SplitMix64::new(seed);
    }

    /// What to send from `server_id` for the good reply `reply` under `cfg`.
    pub(super) fn replies(
        &mut self,
        cfg: &HostileConfig,
        mut reply: OutReply,
        server_id: &str,
    ) -> Vec<Step> {
        let mut fire = HashMap::new();
        for kind in HostileKind::ALL {
            // Always draw, so the sequence depends only on the seed and the reply count.
            let draw = self.rng.next_f64();
            fire.insert(kind, draw < cfg.rate(kind));
        }
        let receiver = String::from_utf8_lossy(&reply.identity).into_owned();
        let id = reply.identity.clone();
        // A reply header from this server to this client, for the messages it makes up.
        let header_to_client = |kind: &str, message_id: &str, preserialized_type: &str| {
            response_header(
                kind,
                message_id,
                &receiver,
                server_id,
                JSON_CONTENT_TYPE,
                preserialized_type,
            )
        };
        let frames = |parts: &[&[u8]]| Step::Frames(parts.iter().map(|p| p.to_vec()).collect());
        let mut out = Vec::new();
        for kind in HostileKind::ALL {
            if !fire[&kind] {
                continue;
            }
            match kind {
                HostileKind::InvalidJsonHeader => out.push(frames(&[
                    &id,
                    b"",
                    b"{\"messageType\":\"REPLY\",\"messageID\":",
                    b"null",
                    b"",
                ])),
                HostileKind::ThreeFrames => out.push(frames(&[&id, b"", &reply.header])),
                HostileKind::SixFrames => {
                    let mut six = reply.frames().to_vec();
                    six.push(b"extra");
                    out.push(frames(&six));
                }
                HostileKind::UnknownMessageId => {
                    let h = header_to_client(protocol::REPLY, &uuid4(&mut self.rng), TEXT_PLAIN);
                    out.push(frames(&[&id, b"", &h, b"null", b""]));
                }
                HostileKind::Replay => {
                    let old = self.history.get(&id).and_then(|h| {
                        if h.is_empty() {
                            None
                        } else {
                            Some(h[(self.rng.next_u64() % h.len() as u64) as usize].clone())
                        }
                    });
                    let Some(old) = old else { continue };
                    out.push(frames(&old.frames())); // to the same client: `old.identity` is `id`
                }
                HostileKind::UnsolicitedTimeout => {
                    let old_id = self
                        .history
                        .get(&id)
                        .and_then(|h| h.back())
                        .map(|r| r.message_id.clone());
                    let message_id = match old_id {
                        Some(old) if self.rng.coin() => old,
                        _ => uuid4(&mut self.rng),
                    };
                    let payload = if self.rng.coin() {
                        EXECUTION_TIMEOUT
                    } else {
                        INVOKATION_TIMEOUT
                    };
                    let h = header_to_client(protocol::TIMEOUT, &message_id, TEXT_PLAIN);
                    out.push(frames(&[&id, b"", &h, payload, b""]));
                }
                HostileKind::MissingKeys => {
                    let drop_key = if self.rng.coin() {
                        "messageID"
                    } else {
                        "messageType"
                    };
                    let h = header_without(&reply.header, drop_key);
                    out.push(frames(&[
                        &id,
                        b"",
                        &h,
                        &reply.payload,
                        &reply.preserialized,
                    ]));
                }
                HostileKind::LargeFrame => {
                    let h =
                        header_to_client(protocol::REPLY, &uuid4(&mut self.rng), JSON_CONTENT_TYPE);
                    let big = vec![b'x'; cfg.large_frame_size];
                    out.push(frames(&[&id, b"", &h, b"null", &big]));
                }
                HostileKind::ExtraKeys => {
                    let mut h = reply.header.clone();
                    h.pop(); // the closing brace
                    h.extend_from_slice(b",\"hostileExtra\":true}");
                    reply.header = h;
                    continue; // counted once the good reply it marks is sent
                }
                HostileKind::Duplicate => continue, // after the good reply
            }
            out.push(Step::Count(kind));
        }
        out.push(Step::Good(reply.clone()));
        if fire[&HostileKind::ExtraKeys] {
            out.push(Step::Count(HostileKind::ExtraKeys));
        }
        if fire[&HostileKind::Duplicate] {
            out.push(frames(&reply.frames()));
            out.push(Step::Count(HostileKind::Duplicate));
        }
        let history = self.history.entry(id).or_default();
        if history.len() == HISTORY_PER_CLIENT {
            history.pop_front();
        }
        history.push_back(reply);
        out
    }
}

/// The header JSON with one key removed, key order otherwise preserved.
fn header_without(header: &[u8], key: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(header);
    let inner = text.trim_start_matches('{').trim_end_matches('}');
    // Reply header values are JSON strings without commas in practice; split at `,"` boundaries.
    let kept: Vec<&str> = inner
        .split(",\"")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.trim_start_matches('"')
            } else {
                part
            }
        })
        .filter(|part| !part.starts_with(&format!("{key}\"")))
        .collect();
    let body: Vec<String> = kept.iter().map(|p| format!("\"{p}")).collect();
    format!("{{{}}}", body.join(",")).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_without_keeps_order() {
        let h = response_header("REPLY", "id-1", "cli", "srv", JSON_CONTENT_TYPE, TEXT_PLAIN);
        let out = String::from_utf8(header_without(&h, "messageID")).unwrap();
        assert_eq!(
            out,
            r#"{"messageType":"REPLY","receiverID":"cli","senderID":"srv","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#
        );
        let out = String::from_utf8(header_without(&h, "messageType")).unwrap();
        assert!(out.starts_with(r#"{"messageID":"id-1","#), "{out}");
    }

    fn good_reply(message_id: &str) -> OutReply {
        OutReply::simple(protocol::REPLY, message_id, "cli", "srv", b"1".to_vec())
    }

    /// The steps as (kind of step, frame count or counted kind), for comparing plans.
    fn shape(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Frames(f) => format!("frames {}", f.len()),
                Step::Good(r) => format!("good {}", r.message_id),
                Step::Count(k) => format!("count {k:?}"),
            })
            .collect()
    }

    #[test]
    fn nothing_fires_at_rate_zero() {
        let mut hostile = Hostile::default();
        let steps = hostile.replies(&HostileConfig::default(), good_reply("a"), "srv");
        assert_eq!(shape(&steps), ["good a"]);
    }

    #[test]
    fn a_duplicate_follows_the_good_reply_and_a_replay_needs_history() {
        let mut hostile = Hostile::default();
        let dup = HostileConfig::only(HostileKind::Duplicate, 1.0, 3);
        let steps = hostile.replies(&dup, good_reply("a"), "srv");
        assert_eq!(shape(&steps), ["good a", "frames 5", "count Duplicate"]);
        let Step::Frames(copy) = &steps[1] else {
            panic!("frames");
        };
        assert_eq!(copy, &good_reply("a").frames().map(<[u8]>::to_vec));

        let mut fresh = Hostile::default();
        let replay = HostileConfig::only(HostileKind::Replay, 1.0, 3);
        let first = fresh.replies(&replay, good_reply("a"), "srv");
        assert_eq!(shape(&first), ["good a"], "no earlier reply to replay");
        let second = fresh.replies(&replay, good_reply("b"), "srv");
        assert_eq!(shape(&second), ["frames 5", "count Replay", "good b"]);
    }

    #[test]
    fn the_plan_is_a_function_of_seed_and_reply_count() {
        let cfg = HostileConfig::all(0.5, 11);
        let run = || {
            let mut hostile = Hostile::default();
            hostile.reseed(cfg.seed);
            (0..20)
                .flat_map(|i| shape(&hostile.replies(&cfg, good_reply(&i.to_string()), "srv")))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn extra_keys_mark_the_good_reply_and_count_once() {
        let mut hostile = Hostile::default();
        let extra = HostileConfig::only(HostileKind::ExtraKeys, 1.0, 3);
        let steps = hostile.replies(&extra, good_reply("a"), "srv");
        assert_eq!(shape(&steps), ["good a", "count ExtraKeys"]);
        let Step::Good(marked) = &steps[0] else {
            panic!("good reply first");
        };
        assert!(marked.header.ends_with(b",\"hostileExtra\":true}"));
    }
}
