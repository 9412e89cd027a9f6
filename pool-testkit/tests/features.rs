//! The fake Thing's newer features, checked with the same requests (`feature_checks`) as the live
//! harness tests in `python_harness.rs` run against real hololinked: the Thing Description,
//! execution logs, exception notes, msgpack payloads, readall/readmultiple order, and the
//! README's `integration_time` / `acquire`.

mod feature_checks;

use feature_checks::{call, Flavor};
use pool_testkit::raw_client::{RawClient, Request};
use pool_testkit::thing::{ACTION_NAMES, PROPERTY_NAMES};
use pool_testkit::{EventStream, ServerConfig, TestServer, Transport};
use serde_json::{json, Value};

const T: std::time::Duration = std::time::Duration::from_secs(5);

fn start(id: &str, config: pool_testkit::ServerConfigBuilder) -> (TestServer, RawClient) {
    let server = TestServer::start(config.build()).unwrap();
    let c = RawClient::connect(server.tcp_endpoint().unwrap(), "features-client", id).unwrap();
    c.handshake(T).unwrap();
    (server, c)
}

#[test]
fn fake_thing_description() {
    let (server, c) = start("td-fake", ServerConfig::builder("td-fake").tcp());
    let endpoint = server.tcp_endpoint().unwrap().to_owned();
    let events = server.event_endpoint(Transport::Tcp).unwrap().to_owned();
    feature_checks::thing_description(Flavor::Fake, &c, "td-fake", &endpoint, &events);
    feature_checks::td_protocol_not_served(Flavor::Fake, &c, "td-fake");
    let r = call(
        &c,
        &feature_checks::td_request("td-fake", json!({"protocol": "TCP"})),
    );
    let td: Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(td["title"], "TestThing");
    assert_eq!(
        td["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        PROPERTY_NAMES.iter().collect::<Vec<_>>()
    );
    let it = &td["properties"]["integration_time"];
    assert_eq!(
        (it["type"].as_str(), it["default"].as_f64()),
        (Some("number"), Some(0.1))
    );
    assert!(td["actions"]["acquire"].is_object());
    assert_eq!(td["events"], json!({}));
    assert!(td["properties"]["number"].get("observable").is_none());
}

#[test]
fn fake_td_observable_streams_and_ipc() {
    let config = ServerConfig::builder("td-obs")
        .tcp()
        .ipc()
        .observable("number")
        .event_stream(EventStream::new("td-obs", "tick"))
        .event_stream(EventStream::new("someone-else", "other"));
    let (server, c) = start("td-obs", config);
    let ipc = server.ipc_endpoint().unwrap().to_owned();
    let ipc_events = server.event_endpoint(Transport::Ipc).unwrap().to_owned();
    let r = call(
        &c,
        &feature_checks::td_request("td-obs", json!({"protocol": "IPC"})),
    );
    assert_eq!(r.message_type, "REPLY");
    let raw = String::from_utf8(r.payload.clone()).unwrap();
    assert!(
        raw.contains(r#""number":{"description":"","default":1.5,"type":"number","observable":true,"forms":["#),
        "{raw}"
    );
    let td: Value = serde_json::from_slice(&r.payload).unwrap();
    let form =
        |href: &str, op: &str| json!({"href": href, "op": op, "contentType": "application/json"});
    assert_eq!(
        td["properties"]["number"]["forms"],
        json!([
            form(&ipc, "readproperty"),
            form(&ipc, "writeproperty"),
            form(&ipc_events, "observeproperty")
        ])
    );
    assert_eq!(
        td["events"],
        json!({"tick": {"description": pool_testkit::description::EVENT_DESCRIPTION, "forms": [form(&ipc_events, "subscribeevent")]}})
    );
    let r = call(
        &c,
        &feature_checks::td_request("td-obs", json!({"protocol": "ipc", "skip_names": ["tick"]})),
    );
    let td: Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(td["events"], json!({}));
}

#[test]
fn fake_execution_logs() {
    let (_server, c) = start("logs-fake", ServerConfig::builder("logs-fake").tcp());
    feature_checks::execution_logs(Flavor::Fake, &c, "logs-fake");
}

#[test]
fn fake_exception_notes() {
    let (_server, c) = start("notes-fake", ServerConfig::builder("notes-fake").tcp());
    feature_checks::exception_notes(Flavor::Fake, &c, "notes-fake");
}

#[test]
fn fake_msgpack() {
    let (_server, c) = start("mp-fake", ServerConfig::builder("mp-fake").tcp());
    feature_checks::msgpack(&c, "mp-fake");
}

#[test]
fn fake_read_all_sorted() {
    let (_server, c) = start("all-fake", ServerConfig::builder("all-fake").tcp());
    feature_checks::read_all(
        &c,
        "all-fake",
        "all-fake",
        r#"{"integration_time":0.1,"number":1.5,"state":null,"text":"hello"}"#,
    );
}

#[test]
fn fake_integration_time_and_acquire() {
    assert_eq!(PROPERTY_NAMES.len(), 4);
    assert_eq!(ACTION_NAMES.len(), 16);
    let (_server, c) = start("acq-fake", ServerConfig::builder("acq-fake").tcp());
    let t = "acq-fake";
    assert_eq!(
        call(&c, &Request::read_property(t, "integration_time")).payload,
        b"0.1"
    );
    assert_eq!(
        call(&c, &Request::invoke_action(t, "acquire", &json!({}))).payload,
        b"[0.0]"
    );
    assert_eq!(
        call(&c, &Request::invoke_action(t, "acquire", &json!({"n": 3}))).payload,
        b"[0.0,0.1,0.2]"
    );
    assert_eq!(
        call(
            &c,
            &Request::write_property(t, "integration_time", &json!(0.5))
        )
        .payload,
        b"null"
    );
    assert_eq!(
        call(
            &c,
            &Request::invoke_action(t, "acquire", &json!({"__args__": [2]}))
        )
        .payload,
        b"[0.0,0.5]"
    );
    assert_eq!(
        call(&c, &Request::invoke_action(t, "acquire", &json!({"n": 0}))).payload,
        b"[]"
    );
    let r = call(
        &c,
        &Request::invoke_action(t, "acquire", &json!({"n": 1.5})),
    );
    assert_eq!(r.message_type, "EXCEPTION");
    assert_eq!(r.exception().kind, "TypeError");
    let r = call(
        &c,
        &Request::write_property(t, "integration_time", &json!("fast")),
    );
    assert_eq!(r.message_type, "EXCEPTION");
}

#[test]
fn farm_thing_description_points_at_its_endpoint() {
    let farm = pool_testkit::ServerFarm::builder()
        .server(ServerConfig::builder("farm-td").tcp().build())
        .start()
        .unwrap();
    let endpoint = farm.endpoints(0).unwrap()[0].clone();
    let c = RawClient::connect(&endpoint, "features-client", "farm-td").unwrap();
    c.handshake(T).unwrap();
    let r = call(
        &c,
        &feature_checks::td_request("farm-td", json!({"protocol": "TCP"})),
    );
    let td: Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(
        td["actions"]["add"]["forms"][0]["href"].as_str(),
        Some(endpoint.as_str())
    );
}
