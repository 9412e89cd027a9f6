//! The fake Thing: three properties and a handful of actions, executed the way hololinked 0.4.x's
//! `EventLoop.execute_operation` does.

use std::time::Duration;

use serde_json::{Map, Number, Value};

use crate::protocol::{
    exception_payload, fake_traceback, key_error_message, py_repr_str, py_type_name,
    JSON_CONTENT_TYPE, TEXT_PLAIN,
};

/// Names of the properties every fake Thing has, in declaration order.
pub const PROPERTY_NAMES: [&str; 3] = ["number", "text", "state"];

/// Names of the actions every fake Thing has (`slow` is an alias of `sleep_for`, the name the
/// golden vectors' Thing uses).
pub const ACTION_NAMES: [&str; 10] = [
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
];

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
}

/// One fake Thing's state.
#[derive(Debug, Clone)]
pub struct Thing {
    id: String,
    number: Value,
    text: String,
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
            text: DEFAULT_TEXT.to_owned(),
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
        let result = self.execute_inner(
            objekt,
            operation,
            payload_content_type,
            payload,
            preserialized,
        );
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
        if payload_content_type != JSON_CONTENT_TYPE {
            return Err(err(
                "ValueError",
                format!("content type {payload_content_type} not supported for deserialization"),
            ));
        }
        let payload: Value = if payload.is_empty() {
            return Err(err("DecodeError", "Input data was truncated"));
        } else {
            serde_json::from_slice(payload)
                .map_err(|e| err("DecodeError", format!("JSON is malformed: {e}")))?
        };
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
            Some("number") => match value {
                Arg::Json(Value::Number(n)) => {
                    self.number = Value::Number(n);
                    Ok(())
                }
                other => Err(err(
                    "TypeError",
                    format!(
                        "given value is not number type, but <class '{}'>.{}",
                        other.type_name(),
                        self.owner_info("number")
                    ),
                )),
            },
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
                message: "Some properties could not be set due to errors, check notes or logs for more info."
                    .to_owned(),
                notes: Value::String(notes),
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
                match a.remove(0) {
                    Arg::Json(v) => immediate(Returned::Value(v)),
                    Arg::Bytes(b) => immediate(Returned::Bytes(b)),
                }
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
            r#"{"number":7,"text":"hello","state":null}"#
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
