//! The fake Thing: four properties and a set of actions, executed the way hololinked 0.4.x's
//! `EventLoop.execute_operation` does. Its Thing Description lives in [`crate::description`],
//! payload decoding in [`crate::serialization`], execution logs in [`crate::execution_logs`].

use std::time::Duration;

use serde_json::{Map, Number, Value};

use crate::description::{thing_description, DescriptionContext, PropertyInfo};
use crate::execution_logs::LogCollector;
use crate::protocol::{
    exception_payload, fake_traceback, key_error_message, py_repr_str, py_type_name,
    JSON_CONTENT_TYPE, TEXT_PLAIN,
};
use crate::serialization::{decode_payload, encode_msgpack, MSGPACK_CONTENT_TYPE};

/// Names of the properties every fake Thing has, sorted: the order hololinked (0.4.2 and 0.3.12)
/// gives them in `readallproperties`, `readmultipleproperties` without names, `_get_properties`
/// without names and the TD.
pub const PROPERTY_NAMES: [&str; 4] = ["integration_time", "number", "state", "text"];

/// Names of the actions every fake Thing has (`slow` is an alias of `sleep_for`, the name the
/// golden vectors' Thing uses; `get_thing_description` is answered as a hololinked server does).
pub const ACTION_NAMES: [&str; 16] = [
    "echo",
    "add",
    "sleep_for",
    "slow",
    "fail",
    "get_bytes",
    "get_mixed",
    "ping",
    "_get_properties",
    "_set_properties",
    "log_and_return",
    "log_and_fail",
    "fail_with_notes",
    "echo_msgpack",
    "acquire",
    "get_thing_description",
];

/// The actions a TD lists, with their descriptions (not the `_get/_set_properties` helpers, the
/// `slow` alias, nor `get_thing_description`, which hololinked does not list either).
const TD_ACTIONS: [(&str, &str); 12] = [
    ("acquire", "Return a list of n floats, i * integration_time for i in 0..n (n defaults to 1)."),
    ("add", "Return a + b (kwargs, or positional through `__args__`)."),
    ("echo", "Return `value` unchanged."),
    ("echo_msgpack", "Return `value`; its replies are msgpack (a serializer registered for this action)."),
    ("fail", "Always raise ValueError(message)."),
    ("fail_with_notes", "Raise ValueError(message) carrying `note` (`add_note`)."),
    ("get_bytes", "Return raw bytes: the reply carries them in the preserialized frame, payload `null`."),
    ("get_mixed", "Return a JSON value plus bytes: payload `\"foobar\"`, preserialized `foobar`."),
    ("log_and_fail", "Log `message` at WARNING on the Thing's logger, then raise ValueError(message)."),
    ("log_and_return", "Log `message` at WARNING on the Thing's logger, return `value` (execution-logs tests)."),
    ("ping", "Ping to see if it is alive.Successful when action succeeds with no return value andno timeout or exception raised on the client side."),
    ("sleep_for", "Block this Thing's executor for `seconds`, then return `seconds`."),
];

/// Default value of the `integration_time` property.
pub const DEFAULT_INTEGRATION_TIME: f64 = 0.1;

/// Default value of the `number` property.
pub const DEFAULT_NUMBER: f64 = 1.5;
/// Default value of the `text` property.
pub const DEFAULT_TEXT: &str = "hello";
/// Bytes returned in the preserialized frame by the `get_bytes` action.
pub const GET_BYTES_VALUE: &[u8] = b"\x00\x01\x02";

/// The result of one operation, before timeouts and oneway are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `REPLY` or `EXCEPTION`.
    pub message_type: &'static str,
    /// Frame 3.
    pub payload: Vec<u8>,
    /// `payloadContentType`.
    pub payload_content_type: &'static str,
    /// Frame 4.
    pub preserialized: Vec<u8>,
    /// `preencodedPayloadContentType`.
    pub preserialized_content_type: &'static str,
    /// How long the Thing is busy producing this outcome (`sleep_for`).
    pub busy_for: Duration,
}

/// A Python exception raised while executing.
struct PyErr {
    type_name: &'static str,
    message: String,
    notes: Value,
}

fn err(type_name: &'static str, message: impl Into<String>) -> PyErr {
    PyErr {
        type_name,
        message: message.into(),
        notes: Value::Null,
    }
}

/// A Python value as an action sees it: JSON, or raw bytes from the preserialized frame.
#[derive(Debug, Clone)]
enum Arg {
    Json(Value),
    Bytes(Vec<u8>),
}

impl Arg {
    /// The argument handed back as an action's return value: a value, or raw bytes.
    fn returned(self) -> Returned {
        match self {
            Arg::Json(v) => Returned::Value(v),
            Arg::Bytes(b) => Returned::Bytes(b),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Arg::Json(v) => py_type_name(v),
            Arg::Bytes(_) => "bytes",
        }
    }
}

/// What an action returns.
enum Returned {
    Value(Value),
    /// Already-encoded JSON (keeps object key order, which `serde_json::Map` does not).
    RawJson(Vec<u8>),
    Bytes(Vec<u8>),
    Mixed(Value, Vec<u8>),
    /// A value its object's serializer encodes as msgpack (`echo_msgpack`).
    Msgpack(Value),
}

/// One fake Thing's state.
#[derive(Debug, Clone)]
pub struct Thing {
    id: String,
    number: Value,
    integration_time: Value,
    text: String,
    /// Where the server serves this Thing, for its TD.
    description: DescriptionContext,
    /// The execution logs of the running operation, when its request asked for them.
    logs: Option<LogCollector>,
    /// The properties marked observable, each with the value its last change event carried
    /// (`None` before the first): hololinked publishes a change only when the value read or
    /// written differs from that one.
    observable: Vec<(String, Option<Value>)>,
}

impl Thing {
    /// A Thing with default property values.
    pub fn new(id: impl Into<String>) -> Thing {
        Thing {
            id: id.into(),
            number: Value::from(DEFAULT_NUMBER),
            integration_time: Value::from(DEFAULT_INTEGRATION_TIME),
            text: DEFAULT_TEXT.to_owned(),
            description: DescriptionContext::default(),
            logs: None,
            observable: Vec::new(),
        }
    }

    /// Marks the properties `names` observable: [`Thing::observed_change`] reports their
    /// changes.
    #[must_use]
    pub fn with_observable(mut self, names: &[String]) -> Thing {
        self.observable
            .extend(names.iter().map(|name| (name.clone(), None)));
        self
    }

    /// Sets where the server serves this Thing (the hrefs of its TD) and its events.
    #[must_use]
    pub fn with_description(mut self, context: DescriptionContext) -> Thing {
        self.description = context;
        self
    }

    /// Whether property `name` is marked observable.
    pub fn is_observable(&self, name: &str) -> bool {
        self.observable.iter().any(|(n, _)| n == name)
    }

    /// The current value of property `name`, if it exists.
    pub fn property(&self, name: &str) -> Option<Value> {
        self.read(Some(name)).ok()
    }

    /// The change event a just-executed operation makes an observable property publish, with
    /// its new value as JSON. As hololinked's property descriptor (0.3 and 0.4,
    /// `push_change_event`): a `writeproperty` or `readproperty` of an observable property
    /// whose outcome is a `REPLY` publishes when the value differs from the one the last
    /// change event carried (the first read or write always does); the same value again
    /// publishes nothing.
    pub fn observed_change(
        &mut self,
        operation: &str,
        objekt: Option<&str>,
        outcome: &Outcome,
    ) -> Option<(String, Vec<u8>)> {
        let name = objekt.filter(|_| matches!(operation, "writeproperty" | "readproperty"))?;
        if outcome.message_type != crate::protocol::REPLY {
            return None;
        }
        let value = self.property(name)?;
        let (_, last) = self.observable.iter_mut().find(|(n, _)| n == name)?;
        if last.as_ref() == Some(&value) {
            return None;
        }
        let bytes = serde_json::to_vec(&value).ok()?;
        *last = Some(value);
        Some((name.to_owned(), bytes))
    }

    /// The Thing's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Executes one operation. `payload` is the raw frame 3, `preserialized` frame 4.
    pub fn execute(
        &mut self,
        objekt: Option<&str>,
        operation: &str,
        payload_content_type: &str,
        payload: &[u8],
        preserialized: &[u8],
    ) -> Outcome {
        self.execute_with_logs(
            objekt,
            operation,
            payload_content_type,
            payload,
            preserialized,
            false,
        )
    }

    /// [`Thing::execute`], collecting execution logs when `fetch_execution_logs`: the reply
    /// payload is then `{"return_value": v, "execution_logs": [...]}` (REPLY) or
    /// `{"exception": {...}, "execution_logs": [...]}` (EXCEPTION), as hololinked's
    /// `thingExecutionContext` `fetch_execution_logs` gives (see [`crate::execution_logs`]).
    pub fn execute_with_logs(
        &mut self,
        objekt: Option<&str>,
        operation: &str,
        payload_content_type: &str,
        payload: &[u8],
        preserialized: &[u8],
        fetch_execution_logs: bool,
    ) -> Outcome {
        self.logs = fetch_execution_logs.then(LogCollector::default);
        let result = self.execute_inner(
            objekt,
            operation,
            payload_content_type,
            payload,
            preserialized,
        );
        if let (Err(e), Some(logs)) = (&result, self.logs.as_mut()) {
            // hololinked's `except` branch: logger.error(...), then logger.exception(ex).
            logs.log(
                "ERROR",
                &self.id,
                &format!("error while executing operation - {}", e.message),
            );
            let traceback = fake_traceback("execute_operation", e.type_name, &e.message);
            logs.log_with_traceback("ERROR", &self.id, &e.message, &traceback);
        }
        let logs = self.logs.take();
        let mut outcome = self.outcome_of(result);
        if let Some(logs) = logs {
            outcome.payload = with_logs(&outcome, &logs);
        }
        outcome
    }

    fn outcome_of(&self, result: Result<(Returned, Duration), PyErr>) -> Outcome {
        match result {
            Ok((returned, busy_for)) => {
                let mut outcome = reply_outcome(returned);
                outcome.busy_for = busy_for;
                outcome
            }
            Err(e) => Outcome {
                message_type: crate::protocol::EXCEPTION,
                payload: exception_payload(
                    e.type_name,
                    &e.message,
                    &fake_traceback("execute_operation", e.type_name, &e.message),
                    &e.notes,
                ),
                payload_content_type: JSON_CONTENT_TYPE,
                preserialized: Vec::new(),
                preserialized_content_type: TEXT_PLAIN,
                busy_for: Duration::ZERO,
            },
        }
    }

    fn execute_inner(
        &mut self,
        objekt: Option<&str>,
        operation: &str,
        payload_content_type: &str,
        payload: &[u8],
        preserialized: &[u8],
    ) -> Result<(Returned, Duration), PyErr> {
        let payload = decode_payload(payload_content_type, payload).map_err(|(t, m)| err(t, m))?;
        let none = || Ok((Returned::Value(Value::Null), Duration::ZERO));
        match operation {
            "readproperty" => {
                let name = objekt.unwrap_or_default();
                Ok((Returned::Value(self.read(Some(name))?), Duration::ZERO))
            }
            "writeproperty" => {
                let value = if preserialized.is_empty() {
                    Arg::Json(payload)
                } else {
                    Arg::Bytes(preserialized.to_vec())
                };
                self.write(objekt, value)?;
                none()
            }
            "readmultipleproperties" | "readallproperties" => {
                let names: Vec<String> = match objekt {
                    None => PROPERTY_NAMES.iter().map(|s| (*s).to_owned()).collect(),
                    Some(list) => list.split(',').map(str::to_owned).collect(),
                };
                let mut out = Vec::new();
                for name in names {
                    if !PROPERTY_NAMES.contains(&name.as_str()) {
                        return Err(err(
                            "AttributeError",
                            format!("property {name} does not exist"),
                        ));
                    }
                    let v = self.read(Some(&name))?;
                    out.push((name, v));
                }
                Ok((Returned::RawJson(ordered_object(&out)), Duration::ZERO))
            }
            "writemultipleproperties" | "writeallproperties" => {
                let Value::Object(map) = payload else {
                    return Err(err(
                        "TypeError",
                        "PropertiesRegistry.set() argument after ** must be a mapping",
                    ));
                };
                self.set_many(map)?;
                none()
            }
            "invokeaction" => self.invoke(objekt.unwrap_or_default(), payload, preserialized),
            _ => Err(err(
                "NotImplementedError",
                format!(
                    "Unimplemented execution path for Thing {} for operation {}",
                    self.id, operation
                ),
            )),
        }
    }

    fn read(&self, name: Option<&str>) -> Result<Value, PyErr> {
        match name {
            Some("number") => Ok(self.number.clone()),
            Some("integration_time") => Ok(self.integration_time.clone()),
            Some("text") => Ok(Value::String(self.text.clone())),
            Some("state") => Ok(Value::Null),
            other => Err(err("KeyError", key_error_message(other))),
        }
    }

    fn owner_info(&self, name: &str) -> String {
        format!(" Owner info : <class 'pool_testkit.TestThing'>, parameter name : {name}.")
    }

    fn write(&mut self, name: Option<&str>, value: Arg) -> Result<(), PyErr> {
        match name {
            Some(name @ ("integration_time" | "number")) => {
                let Arg::Json(Value::Number(n)) = value else {
                    return Err(err(
                        "TypeError",
                        format!(
                            "given value is not number type, but <class '{}'>.{}",
                            value.type_name(),
                            self.owner_info(name)
                        ),
                    ));
                };
                *if name == "number" {
                    &mut self.number
                } else {
                    &mut self.integration_time
                } = Value::Number(n);
                Ok(())
            }
            Some("text") => match value {
                Arg::Json(Value::String(s)) => {
                    self.text = s;
                    Ok(())
                }
                other => Err(err(
                    "TypeError",
                    format!(
                        "given value is not string type, but <class '{}'>.{}",
                        other.type_name(),
                        self.owner_info("text")
                    ),
                )),
            },
            Some("state") => Err(err(
                "ValueError",
                format!(
                    "Read-only parameter cannot be set/modified.{}",
                    self.owner_info("state")
                ),
            )),
            other => Err(err("KeyError", key_error_message(other))),
        }
    }

    fn set_many(&mut self, map: Map<String, Value>) -> Result<(), PyErr> {
        let mut notes = String::new();
        for (name, value) in map {
            if let Err(e) = self.write(Some(&name), Arg::Json(value)) {
                notes.push_str(&format!("{name}: {}\n", e.message));
            }
        }
        if notes.is_empty() {
            Ok(())
        } else {
            Err(PyErr {
                type_name: "RuntimeError",
                message: "Some properties could not be set due to errors. Check exception notes or server logs for more information."
                    .to_owned(),
                // 0.4.2: `ex.__notes__ = [errors]`, one string of "name: message\n" lines
                // (0.3.12 sends that string bare).
                notes: Value::Array(vec![Value::String(notes)]),
            })
        }
    }

    fn invoke(
        &mut self,
        action: &str,
        payload: Value,
        preserialized: &[u8],
    ) -> Result<(Returned, Duration), PyErr> {
        if !ACTION_NAMES.contains(&action) {
            return Err(err("KeyError", py_repr_str(action)));
        }
        let mut kwargs = match payload {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            other => {
                return Err(err(
                    "AttributeError",
                    format!("'{}' object has no attribute 'pop'", py_type_name(&other)),
                ))
            }
        };
        let mut args: Vec<Arg> = Vec::new();
        if !preserialized.is_empty() {
            args.push(Arg::Bytes(preserialized.to_vec()));
        }
        match kwargs.remove("__args__") {
            None => {}
            Some(Value::Array(list)) => args.extend(list.into_iter().map(Arg::Json)),
            Some(other) => {
                return Err(err(
                    "TypeError",
                    format!(
                        "TestThing.{action}() argument after * must be an iterable, not {}",
                        py_type_name(&other)
                    ),
                ))
            }
        }
        let immediate = |r: Returned| Ok((r, Duration::ZERO));
        match action {
            "_get_properties" => {
                let mut out = Vec::new();
                let names = kwargs.remove("names");
                match names {
                    None | Some(Value::Null) => {
                        if kwargs.is_empty() {
                            for name in PROPERTY_NAMES {
                                out.push((name.to_owned(), self.read(Some(name))?));
                            }
                        }
                    }
                    Some(Value::Array(list)) => {
                        for name in list {
                            let name = name
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| name.to_string());
                            let v = self.read(Some(&name))?;
                            out.push((name, v));
                        }
                    }
                    Some(other) => {
                        return Err(err(
                            "TypeError",
                            format!("names must be a list, not {other}"),
                        ))
                    }
                }
                for (name, new_name) in kwargs {
                    let v = self.read(Some(&name))?;
                    let key = new_name.as_str().map(str::to_owned).unwrap_or(name);
                    out.push((key, v));
                }
                immediate(Returned::RawJson(ordered_object(&out)))
            }
            "_set_properties" => {
                self.set_many(kwargs)?;
                immediate(Returned::Value(Value::Null))
            }
            "ping" => {
                bind(action, &[], args, kwargs)?;
                immediate(Returned::Value(Value::Null))
            }
            "get_bytes" => {
                bind(action, &[], args, kwargs)?;
                immediate(Returned::Bytes(GET_BYTES_VALUE.to_vec()))
            }
            "get_mixed" => {
                bind(action, &[], args, kwargs)?;
                immediate(Returned::Mixed(
                    Value::String("foobar".to_owned()),
                    b"foobar".to_vec(),
                ))
            }
            "echo" => {
                let mut a = bind(action, &[("value", None)], args, kwargs)?;
                immediate(a.remove(0).returned())
            }
            "add" => {
                let mut a = bind(
                    action,
                    &[("a", None), ("b", Some(Value::from(0)))],
                    args,
                    kwargs,
                )?;
                let b = a.remove(1);
                let a = a.remove(0);
                immediate(py_add(a, b)?)
            }
            "sleep_for" | "slow" => {
                let a = bind(action, &[("seconds", None)], args, kwargs)?;
                let Arg::Json(Value::Number(n)) = &a[0] else {
                    return Err(err(
                        "TypeError",
                        format!(
                            "'{}' object cannot be interpreted as a number",
                            a[0].type_name()
                        ),
                    ));
                };
                let secs = n.as_f64().unwrap_or(0.0);
                if secs < 0.0 || !secs.is_finite() {
                    return Err(err("ValueError", "sleep length must be non-negative"));
                }
                Ok((
                    Returned::Value(Value::Number(n.clone())),
                    Duration::from_secs_f64(secs.min(1.0e6)),
                ))
            }
            "log_and_return" => {
                let mut a = bind(action, &[("message", None), ("value", None)], args, kwargs)?;
                let value = a.remove(1);
                self.log_warning(&a[0]);
                immediate(value.returned())
            }
            "log_and_fail" => {
                let a = bind(action, &[("message", None)], args, kwargs)?;
                self.log_warning(&a[0]);
                Err(err("ValueError", py_str(&a[0])))
            }
            "fail_with_notes" => {
                let a = bind(action, &[("message", None), ("note", None)], args, kwargs)?;
                Err(PyErr {
                    type_name: "ValueError",
                    message: py_str(&a[0]),
                    notes: Value::Array(vec![Value::String(py_str(&a[1]))]),
                })
            }
            "echo_msgpack" => {
                let mut a = bind(action, &[("value", None)], args, kwargs)?;
                match a.remove(0) {
                    Arg::Json(v) => immediate(Returned::Msgpack(v)),
                    bytes => immediate(bytes.returned()),
                }
            }
            "acquire" => {
                let a = bind(action, &[("n", Some(Value::from(1)))], args, kwargs)?;
                let n = match &a[0] {
                    Arg::Json(Value::Number(n)) if n.is_i64() || n.is_u64() => {
                        n.as_i64().unwrap_or(i64::MAX)
                    }
                    Arg::Json(Value::Bool(b)) => i64::from(*b),
                    other => {
                        return Err(err(
                            "TypeError",
                            format!(
                                "'{}' object cannot be interpreted as an integer",
                                other.type_name()
                            ),
                        ))
                    }
                };
                if n > 1_000_000 {
                    return Err(err("ValueError", "n must be at most 1000000"));
                }
                let step = self.integration_time.as_f64().unwrap_or(0.0);
                let list = (0..n.max(0))
                    .map(|i| Number::from_f64(i as f64 * step).map_or(Value::Null, Value::Number))
                    .collect();
                immediate(Returned::Value(Value::Array(list)))
            }
            "get_thing_description" => {
                if !args.is_empty() {
                    return Err(err(
                        "TypeError",
                        "ThingDescriptionService.generate() takes positional arguments through kwargs only",
                    ));
                }
                let properties = [
                    PropertyInfo {
                        name: "integration_time",
                        schema_type: Some("number"),
                        default: Value::from(DEFAULT_INTEGRATION_TIME),
                        writable: true,
                    },
                    PropertyInfo {
                        name: "number",
                        schema_type: Some("number"),
                        default: Value::from(DEFAULT_NUMBER),
                        writable: true,
                    },
                    PropertyInfo {
                        name: "state",
                        schema_type: None,
                        default: Value::Null,
                        writable: false,
                    },
                    PropertyInfo {
                        name: "text",
                        schema_type: Some("string"),
                        default: Value::from(DEFAULT_TEXT),
                        writable: true,
                    },
                ];
                let observable = |name: &str| self.is_observable(name);
                let td = thing_description(
                    &self.id,
                    &self.description,
                    &properties,
                    &observable,
                    &TD_ACTIONS,
                    kwargs,
                )
                .map_err(|(t, m)| err(t, m))?;
                immediate(Returned::RawJson(td.to_json()))
            }
            "fail" => {
                let a = bind(
                    action,
                    &[(
                        "message",
                        Some(Value::String("deliberate failure".to_owned())),
                    )],
                    args,
                    kwargs,
                )?;
                let message = match &a[0] {
                    Arg::Json(Value::String(s)) => s.clone(),
                    Arg::Json(other) => other.to_string(),
                    Arg::Bytes(b) => format!("b{}", py_repr_str(&String::from_utf8_lossy(b))),
                };
                Err(err("ValueError", message))
            }
            _ => Err(err("KeyError", py_repr_str(action))),
        }
    }
}

impl Thing {
    /// `self.logger.warning(message)` inside an action.
    fn log_warning(&mut self, message: &Arg) {
        let text = py_str(message);
        if let Some(logs) = self.logs.as_mut() {
            logs.log("WARNING", &self.id, &text);
        }
    }
}

/// Python's `str()` of an argument.
fn py_str(a: &Arg) -> String {
    match a {
        Arg::Json(Value::String(s)) => s.clone(),
        Arg::Json(other) => other.to_string(),
        Arg::Bytes(b) => format!("b{}", py_repr_str(&String::from_utf8_lossy(b))),
    }
}

/// The payload of `outcome` wrapped with the execution logs: `{"return_value": v,
/// "execution_logs": [..]}` for a reply (msgpack when the reply is msgpack), the exception
/// payload with `"execution_logs"` added for an error.
fn with_logs(outcome: &Outcome, logs: &LogCollector) -> Vec<u8> {
    if outcome.payload_content_type == MSGPACK_CONTENT_TYPE {
        // A 2-entry map in hololinked's key order; the return value is already msgpack.
        let mut out = vec![0x82];
        out.extend(encode_msgpack(&Value::from("return_value")));
        out.extend(&outcome.payload);
        out.extend(encode_msgpack(&Value::from("execution_logs")));
        out.extend(encode_msgpack(&logs.to_value()));
        return out;
    }
    let logs = logs.to_json();
    if outcome.message_type == crate::protocol::EXCEPTION {
        let mut out = outcome.payload.clone();
        out.pop(); // the closing brace of {"exception":{..}}
        out.extend(b",\"execution_logs\":");
        out.extend(logs);
        out.push(b'}');
        return out;
    }
    let mut out = b"{\"return_value\":".to_vec();
    out.extend(&outcome.payload);
    out.extend(b",\"execution_logs\":");
    out.extend(logs);
    out.push(b'}');
    out
}

/// Encodes `{k: v, ...}` keeping the given key order (msgspec keeps dict insertion order).
fn ordered_object(entries: &[(String, Value)]) -> Vec<u8> {
    let mut out = b"{".to_vec();
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(k).expect("a string always serialises"));
        out.push(b':');
        out.extend(serde_json::to_vec(v).expect("a serde_json::Value always serialises"));
    }
    out.push(b'}');
    out
}

/// Binds positional and keyword arguments to parameters like a Python call does.
fn bind(
    function: &str,
    params: &[(&str, Option<Value>)],
    args: Vec<Arg>,
    mut kwargs: Map<String, Value>,
) -> Result<Vec<Arg>, PyErr> {
    let qualified = format!("TestThing.{function}()");
    if args.len() > params.len() {
        let required = params.iter().filter(|(_, d)| d.is_none()).count();
        let takes = if required == params.len() {
            format!("{}", params.len() + 1)
        } else {
            format!("from {} to {}", required + 1, params.len() + 1)
        };
        return Err(err(
            "TypeError",
            format!(
                "{qualified} takes {takes} positional arguments but {} were given",
                args.len() + 1
            ),
        ));
    }
    let mut bound: Vec<Option<Arg>> = args.into_iter().map(Some).collect();
    bound.resize(params.len(), None);
    for (i, (name, _)) in params.iter().enumerate() {
        if let Some(v) = kwargs.remove(*name) {
            if bound[i].is_some() {
                return Err(err(
                    "TypeError",
                    format!("{qualified} got multiple values for argument '{name}'"),
                ));
            }
            bound[i] = Some(Arg::Json(v));
        }
    }
    if let Some(extra) = kwargs.keys().next() {
        return Err(err(
            "TypeError",
            format!("{qualified} got an unexpected keyword argument '{extra}'"),
        ));
    }
    let mut out = Vec::with_capacity(params.len());
    let mut missing = Vec::new();
    for ((name, default), value) in params.iter().zip(bound) {
        match (value, default) {
            (Some(v), _) => out.push(v),
            (None, Some(d)) => out.push(Arg::Json(d.clone())),
            (None, None) => missing.push(format!("'{name}'")),
        }
    }
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        return Err(err(
            "TypeError",
            format!(
                "{qualified} missing {} required positional argument{s}: {}",
                missing.len(),
                missing.join(" and ")
            ),
        ));
    }
    Ok(out)
}

/// Python's `a + b` for the JSON (and bytes) types.
fn py_add(a: Arg, b: Arg) -> Result<Returned, PyErr> {
    let unsupported = |a: &Arg, b: &Arg| {
        err(
            "TypeError",
            format!(
                "unsupported operand type(s) for +: '{}' and '{}'",
                a.type_name(),
                b.type_name()
            ),
        )
    };
    match (a, b) {
        (Arg::Json(Value::Number(x)), Arg::Json(Value::Number(y))) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                if let Some(s) = x.checked_add(y) {
                    return Ok(Returned::Value(Value::from(s)));
                }
            }
            let s = x.as_f64().unwrap_or(f64::NAN) + y.as_f64().unwrap_or(f64::NAN);
            Ok(Returned::Value(
                Number::from_f64(s).map_or(Value::Null, Value::Number),
            ))
        }
        (Arg::Json(Value::Bool(x)), Arg::Json(Value::Number(y)))
        | (Arg::Json(Value::Number(y)), Arg::Json(Value::Bool(x))) => py_add(
            Arg::Json(Value::from(i64::from(x))),
            Arg::Json(Value::Number(y)),
        ),
        (Arg::Json(Value::Bool(x)), Arg::Json(Value::Bool(y))) => {
            Ok(Returned::Value(Value::from(i64::from(x) + i64::from(y))))
        }
        (Arg::Json(Value::String(x)), Arg::Json(Value::String(y))) => {
            Ok(Returned::Value(Value::String(x + &y)))
        }
        (Arg::Json(Value::String(_)), other) => Err(err(
            "TypeError",
            format!(
                "can only concatenate str (not \"{}\") to str",
                other.type_name()
            ),
        )),
        (Arg::Json(Value::Array(mut x)), Arg::Json(Value::Array(y))) => {
            x.extend(y);
            Ok(Returned::Value(Value::Array(x)))
        }
        (Arg::Json(Value::Array(_)), other) => Err(err(
            "TypeError",
            format!(
                "can only concatenate list (not \"{}\") to list",
                other.type_name()
            ),
        )),
        (Arg::Bytes(mut x), Arg::Bytes(y)) => {
            x.extend(y);
            Ok(Returned::Bytes(x))
        }
        (Arg::Bytes(_), other) => Err(err(
            "TypeError",
            format!("can't concat {} to bytes", other.type_name()),
        )),
        (a, b) => Err(unsupported(&a, &b)),
    }
}

/// hololinked's `format_return_value` for each kind of return value (docs/protocol.md §8, reply
/// payloads).
fn reply_outcome(returned: Returned) -> Outcome {
    let json = |v: &Value| serde_json::to_vec(v).expect("a serde_json::Value always serialises");
    let (payload, preserialized, preserialized_content_type) = match returned {
        Returned::Value(v) => (json(&v), Vec::new(), TEXT_PLAIN),
        Returned::RawJson(raw) => (raw, Vec::new(), TEXT_PLAIN),
        Returned::Bytes(b) if b.is_empty() => (b"null".to_vec(), b, TEXT_PLAIN),
        Returned::Bytes(b) => (b"null".to_vec(), b, JSON_CONTENT_TYPE),
        Returned::Mixed(v, b) => (json(&v), b, JSON_CONTENT_TYPE),
        Returned::Msgpack(v) => {
            return Outcome {
                message_type: crate::protocol::REPLY,
                payload: encode_msgpack(&v),
                payload_content_type: MSGPACK_CONTENT_TYPE,
                preserialized: Vec::new(),
                preserialized_content_type: TEXT_PLAIN,
                busy_for: Duration::ZERO,
            }
        }
    };
    Outcome {
        message_type: crate::protocol::REPLY,
        payload,
        payload_content_type: JSON_CONTENT_TYPE,
        preserialized,
        preserialized_content_type,
        busy_for: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &mut Thing, objekt: &str, op: &str, payload: &str) -> (String, String) {
        let o = t.execute(Some(objekt), op, JSON_CONTENT_TYPE, payload.as_bytes(), b"");
        (
            o.message_type.to_owned(),
            String::from_utf8(o.payload).unwrap(),
        )
    }

    #[test]
    fn actions() {
        let mut t = Thing::new("t");
        assert_eq!(
            run(&mut t, "add", "invokeaction", r#"{"a":2,"b":3}"#).1,
            "5"
        );
        assert_eq!(
            run(&mut t, "add", "invokeaction", r#"{"__args__":[2,3.5]}"#).1,
            "5.5"
        );
        assert_eq!(
            run(&mut t, "add", "invokeaction", r#"{"__args__":[2]}"#).1,
            "2"
        );
        let (ty, p) = run(&mut t, "add", "invokeaction", r#"{}"#);
        assert_eq!(ty, "EXCEPTION");
        assert!(
            p.contains("missing 1 required positional argument: 'a'"),
            "{p}"
        );
        let o = t.execute(
            Some("add"),
            "invokeaction",
            JSON_CONTENT_TYPE,
            br#"{"b":"78"}"#,
            b"\x01\x02",
        );
        assert!(String::from_utf8(o.payload)
            .unwrap()
            .contains("can't concat str to bytes"));
        assert_eq!(run(&mut t, "number", "readproperty", "null").1, "1.5");
        assert_eq!(run(&mut t, "number", "writeproperty", "7").1, "null");
        assert_eq!(run(&mut t, "number", "readproperty", "null").1, "7");
        assert_eq!(run(&mut t, "text", "writeproperty", "123").0, "EXCEPTION");
        assert_eq!(
            run(&mut t, "_get_properties", "invokeaction", "{}").1,
            r#"{"integration_time":0.1,"number":7,"state":null,"text":"hello"}"#
        );
        assert_eq!(run(&mut t, "x", "frobnicate", "null").0, "EXCEPTION");
        let o = t.execute(
            Some("get_bytes"),
            "invokeaction",
            JSON_CONTENT_TYPE,
            b"null",
            b"",
        );
        assert_eq!(
            (o.payload.as_slice(), o.preserialized.as_slice()),
            (&b"null"[..], GET_BYTES_VALUE)
        );
        assert_eq!(o.preserialized_content_type, JSON_CONTENT_TYPE);
        let o = t.execute(
            Some("sleep_for"),
            "invokeaction",
            JSON_CONTENT_TYPE,
            br#"{"seconds":0.25}"#,
            b"",
        );
        assert_eq!(o.busy_for, Duration::from_millis(250));
        assert_eq!(o.payload, b"0.25");
        let o = t.execute(Some("number"), "readproperty", JSON_CONTENT_TYPE, b"", b"");
        assert!(String::from_utf8(o.payload)
            .unwrap()
            .contains("DecodeError"));
    }
}
