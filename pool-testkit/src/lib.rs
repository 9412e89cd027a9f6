//! Fake hololinked servers for testing a ZeroMQ client pool.
//!
//! A [`TestServer`] is a libzmq ROUTER socket (identity = server id, `ZMQ_ROUTER_HANDOVER` off,
//! linger 0) that speaks the hololinked 0.4.x request/reply protocol byte for byte: 5-frame
//! messages `[identity, "", header, payload, preserialized]`, HANDSHAKE, EXIT, INVALID_MESSAGE
//! for wrong frame counts and unknown Things, per-Thing serialised execution with invokation and
//! execution timeouts read from `serverExecutionContext` (snake_case first, then camelCase),
//! oneway requests, and replies routed by the header's `senderID`.
//!
//! Every Thing has the properties `integration_time` (default 0.1), `number` (default 1.5),
//! `text` (default `"hello"`) and `state` (read-only, `null`), given sorted by name as hololinked
//! gives them, and the actions `echo`, `add`, `sleep_for`, `fail`, `get_bytes`, `get_mixed`,
//! `ping`, `acquire(n=1)` (`[i * integration_time for i in range(n)]`), `log_and_return`,
//! `log_and_fail`, `fail_with_notes`, `echo_msgpack` (replies in msgpack), `_get_properties` and
//! `_set_properties` (see [`thing`]). `invokeaction get_thing_description` answers the Thing
//! Description a hololinked 0.4.2 server gives ([`description`]); `thingExecutionContext`
//! `fetch_execution_logs` wraps replies with execution logs ([`execution_logs`]); request
//! payloads may be JSON or msgpack ([`serialization`]).
//!
//! Every [`TestServer`] also publishes hololinked events ([`events`], docs/protocol.md §17) on one
//! PUB socket for all its Things, bound beside each request endpoint as hololinked 0.4.2 binds it:
//! tcp port + 1, or `{id}.event-publisher.ipc` beside the `.ipc` socket
//! ([`TestServer::event_endpoint`]). Events are 5 frames `[event id, "", header, payload,
//! preserialized]` with event id `"{thing}/{event}"` and `senderID` `"{id}/event-publisher"`.
//! Tests publish on demand ([`TestServer::publish`]), as steady [`EventStream`]s (`{"n":k}` at a
//! rate; configured or [`TestServer::start_stream`]), from observable properties (a
//! `writeproperty` of a property marked with [`ServerConfigBuilder::observable`] publishes
//! `{name}_change_event` with the new value when it changed, as hololinked does), and as raw or [`HostileEvent`] frames
//! ([`TestServer::publish_raw`], [`TestServer::publish_hostile`]). The publisher dies with its
//! server's kill and comes back on the same endpoints at restart. A [`ServerFarm`] publishes no
//! events.
//!
//! For fault tests a server can be killed and restarted on the same endpoints, and its
//! [`Behaviour`] can delay replies, never reply, or interleave bad messages with good replies.
//!
//! Fixtures for live interop with real hololinked: [`python`] starts hololinked 0.4.2 and 0.3.12
//! servers (`python/thing_server.py`) as subprocesses over tcp or ipc, waits for readiness, kills
//! and restarts them; [`raw_client`] is a hololinked client on one libzmq DEALER with hand-built
//! frames, to pin what real servers do independently of the pool.
//!
//! A [`ServerFarm`] serves many such servers (each its own ROUTER socket, identity and
//! endpoints) from one thread and one libzmq context, for benchmarks over many servers whose
//! own threads should not crowd the machine.
//!
//! ```no_run
//! use pool_testkit::{ServerConfig, TestServer};
//!
//! let server = TestServer::start(ServerConfig::builder("demo").tcp().ipc().build())?;
//! println!("listening on {:?}", server.endpoints());
//! # Ok::<(), pool_testkit::Error>(())
//! ```
#![forbid(unsafe_code)]

mod config;
pub mod description;
mod endpoints;
mod error;
pub mod events;
pub mod execution_logs;
mod farm;
mod handling;
mod inproc;
mod lock;
pub mod protocol;
pub mod python;
pub mod raw_client;
pub mod serialization;
mod server;
mod stats;
pub mod thing;
mod timers;
mod transport;
mod zmtp_peer;

pub use config::{
    sanitized_ipc_filename, Behaviour, Bind, HostileConfig, HostileKind, ServerConfig,
    ServerConfigBuilder, DEFAULT_SEND_HWM,
};
pub use description::DescriptionContext;
pub use error::Error;
pub use events::{EventStream, HostileEvent};
pub use farm::{ServerFarm, ServerFarmBuilder, MAX_FARM_SERVERS};
pub use python::{PythonServer, PythonServerBuilder};
pub use server::{StreamId, TestServer};
pub use stats::Stats;
pub use transport::Transport;
pub use zmtp_peer::{Lie, LyingPeer, LINGER};
