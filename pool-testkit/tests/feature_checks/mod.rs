//! Checks shared by the live harness tests (`python_harness.rs`, real hololinked 0.4.2 and
//! 0.3.12) and the fake server's tests (`features.rs`): the same requests, and the replies each
//! kind of server gives (the fake follows 0.4.2).
#![allow(dead_code)] // each test file uses a subset

use std::time::Duration;

use pool_testkit::raw_client::{
    request_header, thing_context, ContextKeys, RawClient, Reply, Request,
};
use serde_json::{json, Value};

/// Generous bound for one reply.
pub const REPLY: Duration = Duration::from_secs(20);

/// Which server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// hololinked 0.4.2.
    V0_4,
    /// hololinked 0.3.12.
    V0_3,
    /// The testkit's fake Thing.
    Fake,
}

impl Flavor {
    /// 0.4.2 or the fake (which mimics it).
    pub fn like_0_4(self) -> bool {
        self != Flavor::V0_3
    }
}

/// The msgspec encoding of `{"a": [1, 2.5, "x"]}` (what `echo_msgpack` replies, both lines).
pub const MSGPACK_A: &[u8] = b"\x81\xa1a\x93\x01\xcb@\x04\x00\x00\x00\x00\x00\x00\xa1x";

/// A TD request as hololinked's `ClientFactory.zmq` sends it.
pub fn td_request(thing: &str, kwargs: Value) -> Request {
    Request::invoke_action(thing, "get_thing_description", &kwargs)
}

/// Sends `req` and waits for its reply.
pub fn call(c: &RawClient, req: &Request) -> Reply {
    c.request_with_timeout(req, REPLY)
        .unwrap_or_else(|e| panic!("{req:?}: {e}"))
}

/// Sends `req` with its `objekt` replaced by JSON `null`.
pub fn call_null_objekt(c: &RawClient, server_id: &str, req: &Request) -> Reply {
    let mut h = request_header(req, c.identity(), server_id);
    h["objekt"] = Value::Null;
    c.send_raw(&h, &req.payload, &req.preserialized).unwrap();
    c.recv_reply(&req.message_id, REPLY).unwrap()
}

fn json_of(r: &Reply) -> Value {
    serde_json::from_slice(&r.payload)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&r.payload)))
}

fn exception_of(r: &Reply, ty: &str) -> Value {
    assert_eq!(
        r.message_type,
        "EXCEPTION",
        "{}",
        String::from_utf8_lossy(&r.payload)
    );
    let v = json_of(r);
    assert_eq!(v["exception"]["type"], ty, "{v}");
    v
}

/// The Thing Description of `thing`, served at `endpoint` with events at `event_endpoint`
/// (tcp), and its error replies.
pub fn thing_description(
    flavor: Flavor,
    c: &RawClient,
    thing: &str,
    endpoint: &str,
    event_endpoint: &str,
) {
    let r = call(
        c,
        &td_request(
            thing,
            json!({"ignore_errors": false, "protocol": "TCP", "skip_names": []}),
        ),
    );
    assert_eq!(
        r.message_type,
        "REPLY",
        "{}",
        String::from_utf8_lossy(&r.payload)
    );
    assert_eq!(r.header_str("payloadContentType"), Some("application/json"));
    let raw = String::from_utf8(r.payload.clone()).unwrap();
    assert!(
        raw.starts_with(&format!(
            r#"{{"context":["https://www.w3.org/2022/wot/td/v1.1"],"id":"{thing}","title":"#
        )),
        "{raw}"
    );
    let td = json_of(&r);
    let keys: Vec<&str> = [
        "context",
        "id",
        "title",
        "description",
        "properties",
        "actions",
        "events",
    ]
    .to_vec();
    let mut positions: Vec<usize> = keys
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).unwrap())
        .collect();
    let sorted = {
        let mut p = positions.clone();
        p.sort_unstable();
        p
    };
    assert_eq!(positions, sorted, "top-level key order: {raw}");
    positions.clear();
    let read = json!({"href": endpoint, "op": "readproperty", "contentType": "application/json"});
    let write = json!({"href": endpoint, "op": "writeproperty", "contentType": "application/json"});
    let number = &td["properties"]["number"];
    assert_eq!(number["type"], "number");
    assert_eq!(number["default"], 1.5);
    assert_eq!(number["forms"], json!([read, write]), "{number}");
    assert!(number.get("readOnly").is_none());
    assert_eq!(td["properties"]["text"]["type"], "string");
    if flavor.like_0_4() {
        // 0.4.2 drops plain properties' docs; key order description, default, type, forms.
        assert!(
            raw.contains(r#""number":{"description":"","default":1.5,"type":"number","forms":["#),
            "{raw}"
        );
        let state = &td["properties"]["state"];
        assert_eq!(state["readOnly"], true);
        assert_eq!(state["observable"], true);
        assert_eq!(
            state["oneOf"],
            json!([{"type": "string"}, {"type": "null"}])
        );
        assert_eq!(
            state["forms"],
            json!([read, {"href": event_endpoint, "op": "observeproperty", "contentType": "application/json"}])
        );
    } else {
        // 0.3.12: no `state`, descriptions are the docs.
        assert!(td["properties"].get("state").is_none(), "{td}");
        assert_eq!(number["description"], "a writable float property");
    }
    // Properties and actions sorted by name.
    let names = |m: &Value| -> Vec<String> {
        let section = m.as_object().unwrap();
        let mut found: Vec<(usize, String)> = section
            .keys()
            .map(|k| (raw.find(&format!("\"{k}\":{{")).unwrap(), k.clone()))
            .collect();
        found.sort();
        found.into_iter().map(|(_, k)| k).collect()
    };
    let props = names(&td["properties"]);
    let mut sorted_props = props.clone();
    sorted_props.sort();
    assert_eq!(props, sorted_props);
    for action in [
        "add",
        "echo",
        "echo_msgpack",
        "fail",
        "fail_with_notes",
        "log_and_fail",
        "log_and_return",
        "ping",
    ] {
        let a = &td["actions"][action];
        assert_eq!(a["synchronous"], true, "{action}: {a}");
        assert_eq!(
            a["forms"],
            json!([{"href": endpoint, "op": "invokeaction", "contentType": "application/json"}]),
            "{action}"
        );
        assert!(
            a.get("input").is_none(),
            "no input schema for {action}: {a}"
        );
    }
    assert!(td["actions"].get("_get_properties").is_none());
    assert!(td["actions"].get("get_thing_description").is_none());
    assert!(td["events"].is_object());

    // skip_names drops properties and actions of those names.
    let r = call(
        c,
        &td_request(
            thing,
            json!({"protocol": "tcp", "skip_names": ["number", "add"]}),
        ),
    );
    let td = json_of(&r);
    assert!(td["properties"].get("number").is_none() && td["properties"].get("text").is_some());
    assert!(td["actions"].get("add").is_none() && td["actions"].get("echo").is_some());

    // Errors.
    let r = call(c, &td_request(thing, json!({})));
    let v = exception_of(&r, "TypeError");
    let want = if flavor.like_0_4() {
        "ThingDescriptionService.generate() missing 1 required positional argument: 'protocol'"
    } else {
        "RPCServer.get_thing_description() missing 1 required positional argument: 'protocol'"
    };
    assert_eq!(v["exception"]["message"], want);
    let r = call(c, &td_request(thing, json!({"protocol": "FOO"})));
    let v = exception_of(&r, "ValueError");
    assert_eq!(
        v["exception"]["message"],
        "Unsupported protocol 'FOO' for ZMQ."
    );
    assert!(v["exception"]["notes"].is_null());
    let r = call(c, &td_request(thing, json!({"protocol": "INPROC"})));
    if flavor.like_0_4() {
        let v = exception_of(&r, "RuntimeError");
        assert_eq!(
            v["exception"]["message"],
            "This server cannot generate TD for INPROC protocol, consider using thing model directly."
        );
    } else {
        // 0.3.12 answers with inproc hrefs of its own inproc server.
        assert_eq!(r.message_type, "REPLY");
        assert!(String::from_utf8_lossy(&r.payload).contains("\"href\":\"inproc://"));
    }
}

/// The TD of a server serving tcp only, asked for IPC.
pub fn td_protocol_not_served(flavor: Flavor, c: &RawClient, thing: &str) {
    let r = call(c, &td_request(thing, json!({"protocol": "IPC"})));
    if flavor.like_0_4() {
        let v = exception_of(&r, "RuntimeError");
        assert_eq!(
            v["exception"]["message"],
            "This server cannot generate TD for IPC protocol, consider using thing model directly."
        );
    } else {
        // 0.3.12 has `ipc_server = None` and trips over it.
        let v = exception_of(&r, "AttributeError");
        assert_eq!(
            v["exception"]["message"],
            "'NoneType' object has no attribute 'socket_address'"
        );
    }
}

fn check_log(record: &Value, level: &str, contains: &str) {
    assert_eq!(record["level"], level, "{record}");
    let ts = record["timestamp"].as_str().unwrap();
    assert_eq!(
        (ts.len(), &ts[4..5], &ts[10..11], &ts[19..20]),
        (26, "-", "T", "."),
        "{ts}"
    );
    assert!(record["thread_id"].as_u64().unwrap() > 0);
    let m = record["message"].as_str().unwrap();
    assert!(m.contains(contains), "{m:?} lacks {contains:?}");
    let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{record}");
}

/// `fetch_execution_logs`: reply and exception shapes, spellings.
pub fn execution_logs(flavor: Flavor, c: &RawClient, thing: &str) {
    let both = thing_context(ContextKeys::Both, true);
    let req = Request::invoke_action(
        thing,
        "log_and_return",
        &json!({"message": "hello logs", "value": 42}),
    )
    .with_thing_context(both.clone());
    let r = call(c, &req);
    assert_eq!(
        r.message_type,
        "REPLY",
        "{}",
        String::from_utf8_lossy(&r.payload)
    );
    let raw = String::from_utf8(r.payload.clone()).unwrap();
    assert!(
        raw.starts_with(r#"{"return_value":42,"execution_logs":[{"level":"WARNING","timestamp":""#),
        "{raw}"
    );
    let v = json_of(&r);
    let logs = v["execution_logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{v}");
    check_log(&logs[0], "WARNING", "hello logs");
    assert!(logs[0]["message"]
        .as_str()
        .unwrap()
        .contains("[warning  ] [THING] hello logs"));

    // The action raises: EXCEPTION {"exception": {...}, "execution_logs": [...]}, newest first.
    let req = Request::invoke_action(thing, "log_and_fail", &json!({"message": "boom"}))
        .with_thing_context(both.clone());
    let r = call(c, &req);
    let v = exception_of(&r, "ValueError");
    assert!(String::from_utf8_lossy(&r.payload)
        .starts_with(r#"{"exception":{"message":"boom","type":"ValueError","#));
    assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
    let logs = v["execution_logs"].as_array().unwrap();
    assert_eq!(logs.len(), 3, "{v}");
    // logger.exception: the formatted line, then the traceback on the lines after it.
    check_log(
        &logs[0],
        "ERROR",
        "[error    ] [THING] boom                   Thing=",
    );
    let m = logs[0]["message"].as_str().unwrap();
    assert!(
        m.contains("\nTraceback (most recent call last):\n") && m.ends_with("\nValueError: boom"),
        "{m:?}"
    );
    check_log(&logs[1], "ERROR", "error while executing operation - boom");
    check_log(&logs[2], "WARNING", "boom");
    assert!(logs[2]["timestamp"].as_str() <= logs[0]["timestamp"].as_str());

    // A property read logs nothing.
    let r = call(
        c,
        &Request::read_property(thing, "number").with_thing_context(both.clone()),
    );
    let v = json_of(&r);
    assert_eq!(v["execution_logs"], json!([]), "{v}");
    assert!(v["return_value"].is_number());

    // camelCase alone: 0.4.x reads it, 0.3.x reads only snake_case.
    let req = Request::invoke_action(
        thing,
        "log_and_return",
        &json!({"message": "camel", "value": 1}),
    )
    .with_thing_context(thing_context(ContextKeys::Camel, true));
    let v = json_of(&call(c, &req));
    if flavor.like_0_4() {
        assert_eq!(v["return_value"], 1, "{v}");
    } else {
        assert_eq!(v, json!(1));
    }
    let req = Request::invoke_action(
        thing,
        "log_and_return",
        &json!({"message": "off", "value": 2}),
    )
    .with_thing_context(thing_context(ContextKeys::Both, false));
    assert_eq!(json_of(&call(c, &req)), json!(2));

    // A msgpack reply wraps the same map, in msgpack.
    let req = Request::invoke_action(thing, "echo_msgpack", &json!({"value": 3}))
        .with_thing_context(both);
    let r = call(c, &req);
    assert_eq!(
        r.header_str("payloadContentType"),
        Some("application/msgpack")
    );
    assert_eq!(r.payload, b"\x82\xacreturn_value\x03\xaeexecution_logs\x90");
}

/// `notes` of exception payloads.
pub fn exception_notes(flavor: Flavor, c: &RawClient, thing: &str) {
    let r = call(
        c,
        &Request::invoke_action(
            thing,
            "fail_with_notes",
            &json!({"message": "m", "note": "a note"}),
        ),
    );
    let v = exception_of(&r, "ValueError");
    assert_eq!(v["exception"]["message"], "m");
    assert_eq!(v["exception"]["notes"], json!(["a note"]));
    let r = call(
        c,
        &Request::invoke_action(thing, "fail", &json!({"message": "plain"})),
    );
    assert!(exception_of(&r, "ValueError")["exception"]["notes"].is_null());

    let r = call(
        c,
        &Request::invoke_action(thing, "_set_properties", &json!({"number": "x"})),
    );
    let v = exception_of(&r, "RuntimeError");
    assert_eq!(
        v["exception"]["message"],
        "Some properties could not be set due to errors. Check exception notes or server logs for more information."
    );
    let notes = &v["exception"]["notes"];
    let note = if flavor.like_0_4() {
        // 0.4.2: `ex.__notes__ = [errors]`, a list of one string.
        assert_eq!(notes.as_array().map(Vec::len), Some(1), "{notes}");
        notes[0].as_str().unwrap()
    } else {
        // 0.3.12: the string itself.
        notes.as_str().unwrap()
    };
    assert!(
        note.starts_with("number: ") && note.ends_with(".\n"),
        "{note:?}"
    );
}

/// msgpack request payloads and the msgpack-replying action.
pub fn msgpack(c: &RawClient, thing: &str) {
    let mp = |req: Request, bytes: &[u8]| {
        let mut req = req;
        req.payload = bytes.to_vec();
        req.payload_content_type = "application/msgpack".into();
        req
    };
    // {"a": 2, "b": 3}
    let r = call(
        c,
        &mp(
            Request::operation(thing, "add", "invokeaction"),
            b"\x82\xa1a\x02\xa1b\x03",
        ),
    );
    assert_eq!(
        (r.message_type.as_str(), &r.payload[..]),
        ("REPLY", &b"5"[..])
    );
    assert_eq!(r.header_str("payloadContentType"), Some("application/json"));
    // 7.5 as float64
    let r = call(
        c,
        &mp(
            Request::operation(thing, "number", "writeproperty"),
            b"\xcb@\x1e\x00\x00\x00\x00\x00\x00",
        ),
    );
    assert_eq!(
        (r.message_type.as_str(), &r.payload[..]),
        ("REPLY", &b"null"[..])
    );
    let r = call(c, &Request::read_property(thing, "number"));
    assert_eq!(r.payload, b"7.5");
    // a read with a msgpack nil payload
    let r = call(
        c,
        &mp(Request::operation(thing, "number", "readproperty"), b"\xc0"),
    );
    assert_eq!(r.payload, b"7.5");
    let r = call(
        c,
        &mp(Request::operation(thing, "add", "invokeaction"), b"\xc1"),
    );
    let v = exception_of(&r, "DecodeError");
    assert!(
        v["exception"]["message"]
            .as_str()
            .unwrap()
            .starts_with("MessagePack data is malformed"),
        "{v}"
    );
    let r = call(
        c,
        &Request::invoke_action(
            thing,
            "echo_msgpack",
            &json!({"value": {"a": [1, 2.5, "x"]}}),
        ),
    );
    assert_eq!(r.message_type, "REPLY");
    assert_eq!(
        r.header_str("payloadContentType"),
        Some("application/msgpack")
    );
    assert_eq!(r.payload, MSGPACK_A);
    // msgpack in, msgpack out: {"value": [1, "a"]}
    let r = call(
        c,
        &mp(
            Request::operation(thing, "echo_msgpack", "invokeaction"),
            b"\x81\xa5value\x92\x01\xa1a",
        ),
    );
    assert_eq!(r.payload, b"\x92\x01\xa1a");
    let mut other = Request::invoke_action(thing, "add", &json!({}));
    other.payload_content_type = "application/x-foo".into();
    let v = exception_of(&call(c, &other), "ValueError");
    assert_eq!(
        v["exception"]["message"],
        "content type application/x-foo not supported for deserialization"
    );
    // leave `number` as found
    call(c, &Request::write_property(thing, "number", &json!(1.5)));
}

/// `readallproperties` / `readmultipleproperties` with `objekt` null: every property, sorted by
/// name; with names in `objekt`: those, in that order. `expected_all` is the exact payload.
pub fn read_all(c: &RawClient, server_id: &str, thing: &str, expected_all: &str) {
    for op in ["readallproperties", "readmultipleproperties"] {
        let req =
            Request::operation(thing, "", op).with_json(&json!({"names": ["text", "number"]}));
        let r = call_null_objekt(c, server_id, &req);
        assert_eq!(String::from_utf8_lossy(&r.payload), expected_all, "{op}");
    }
    let r = call(
        c,
        &Request::operation(thing, "text,number", "readmultipleproperties"),
    );
    assert_eq!(r.payload, br#"{"text":"hello","number":1.5}"#);
    let r = call(
        c,
        &Request::invoke_action(thing, "_get_properties", &json!({})),
    );
    assert_eq!(
        String::from_utf8_lossy(&r.payload),
        expected_all,
        "_get_properties"
    );
    let r = call(c, &Request::operation(thing, "", "readallproperties"));
    let v = exception_of(&r, "AttributeError");
    assert_eq!(v["exception"]["message"], "property  does not exist");
}
