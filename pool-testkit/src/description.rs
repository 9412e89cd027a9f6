//! The fake Thing's Thing Description: the reply to `invokeaction get_thing_description`, which
//! a hololinked `ZMQServer` answers itself (0.4.x `ThingDescriptionService`, 0.3.x
//! `RPCServer.get_thing_description`) with kwargs `{"protocol", "ignore_errors", "skip_names"}`.
//!
//! What it mimics (hololinked 0.4.2, verified live; golden `tcp_get_thing_description.json`):
//! * keys `context`, `id`, `title` (the class name), `description`, `properties`, `actions`,
//!   `events`, each map sorted by name (`events` is `{}` when there are none);
//! * a property is `{description, default, type, observable?, forms}` (`description` is `""`:
//!   0.4.2 drops plain properties' docs), `state` is `{description, readOnly: true, oneOf:
//!   [{type: string}, {type: null}], observable: true, forms}`; forms are `readproperty`,
//!   `writeproperty` (writable ones only) at the request endpoint and `observeproperty` (observable
//!   ones) at the event publisher; change events are not listed under `events`;
//! * an action is `{description, synchronous: true, forms: [invokeaction]}` (hololinked gives no
//!   `input` for actions declared without a schema, like every harness action);
//! * an event is `{description, forms: [subscribeevent at the event publisher]}`, its description
//!   0.4.2's generic `Event` docstring;
//! * `protocol` is matched case-insensitively: `TCP`/`IPC` the server does not serve (and
//!   `INPROC`, which the testkit never serves) → `RuntimeError "This server cannot generate TD for
//!   {P} protocol, consider using thing model directly."`, anything else → `ValueError
//!   "Unsupported protocol '{p}' for ZMQ."`, missing → `TypeError ... missing 1 required positional
//!   argument: 'protocol'`; `skip_names` drops properties, actions and events of those names.
//!
//! 0.3.12 differs: property descriptions carry their docs, `state` is absent, INPROC gives a TD
//! with `inproc://{server}` hrefs, and the TypeError names `RPCServer.get_thing_description()`.

use serde_json::{json, Map, Value};

/// Where a server's Things are reachable: what a TD's forms point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescriptionContext {
    /// The tcp request endpoint and its event publisher, if the server serves tcp.
    pub tcp: Option<(String, Option<String>)>,
    /// The ipc request endpoint and its event publisher, if the server serves ipc.
    pub ipc: Option<(String, Option<String>)>,
    /// Names of the Thing's events (configured event streams of this Thing).
    pub events: Vec<String>,
}

impl DescriptionContext {
    /// The context of a server bound at `endpoints` with publishers at `event_endpoints` (same
    /// order; empty = no publisher), whose Thing has the events `events`.
    pub fn new(endpoints: &[String], event_endpoints: &[String], events: Vec<String>) -> Self {
        let mut ctx = DescriptionContext {
            events,
            ..DescriptionContext::default()
        };
        for (i, e) in endpoints.iter().enumerate() {
            let pair = Some((e.clone(), event_endpoints.get(i).cloned()));
            if e.starts_with("tcp://") && ctx.tcp.is_none() {
                ctx.tcp = pair;
            } else if e.starts_with("ipc://") && ctx.ipc.is_none() {
                ctx.ipc = pair;
            }
        }
        ctx.events.sort();
        ctx.events.dedup();
        ctx
    }
}

/// The description of the `state` property (hololinked's `Thing.state`).
pub const STATE_DESCRIPTION: &str =
    "State machine returned state is always a string even if specified as an Enum in the state machine.";
/// The description 0.4.2 gives every event (its `Event` class docstring).
pub const EVENT_DESCRIPTION: &str = "Asynchronously push arbitrary messages to clients without the client requesting the data every time.Asynchronous as-in messages that cannot be properly timed, not necessary `async`. Events are pushed from the serverto the clients that have subscribed to them.";
/// The fake Thing's description (its class docstring).
pub const THING_DESCRIPTION: &str = "The pool-testkit fake Thing (pool_testkit::thing).";

/// One property of the fake Thing as the TD shows it.
pub(crate) struct PropertyInfo {
    pub name: &'static str,
    /// JSON-schema type; `None` = `state`'s `oneOf` string/null.
    pub schema_type: Option<&'static str>,
    pub default: Value,
    pub writable: bool,
}

/// A `get_thing_description` failure: Python type and message.
pub(crate) type TdError = (&'static str, String);

/// A JSON value whose objects keep their key order (serde_json's `Map` sorts keys here).
#[derive(Debug, Clone)]
pub(crate) enum Ordered {
    /// A plain value (its own objects, if any, sorted).
    Plain(Value),
    /// An object, keys in this order.
    Object(Vec<(String, Ordered)>),
    /// An array.
    Array(Vec<Ordered>),
}

impl Ordered {
    fn obj(entries: Vec<(&str, Ordered)>) -> Ordered {
        Ordered::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    /// Compact JSON, as msgspec writes it.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Ordered::Plain(v) => {
                out.extend(serde_json::to_vec(v).expect("a serde_json::Value always serialises"))
            }
            Ordered::Object(entries) => {
                out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend(serde_json::to_vec(k).expect("a string always serialises"));
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
            Ordered::Array(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    v.write(out);
                }
                out.push(b']');
            }
        }
    }
}

fn plain(v: Value) -> Ordered {
    Ordered::Plain(v)
}

fn form(href: &str, op: &str) -> Ordered {
    Ordered::obj(vec![
        ("href", plain(json!(href))),
        ("op", plain(json!(op))),
        ("contentType", plain(json!("application/json"))),
    ])
}

/// Builds the TD of Thing `id` for the request kwargs `kwargs`.
pub(crate) fn thing_description(
    id: &str,
    ctx: &DescriptionContext,
    properties: &[PropertyInfo],
    observable: &dyn Fn(&str) -> bool,
    actions: &[(&'static str, &'static str)],
    mut kwargs: Map<String, Value>,
) -> Result<Ordered, TdError> {
    let protocol = kwargs.remove("protocol").ok_or_else(|| {
        (
            "TypeError",
            "ThingDescriptionService.generate() missing 1 required positional argument: 'protocol'"
                .to_owned(),
        )
    })?;
    let skip: Vec<String> = match kwargs.remove("skip_names") {
        Some(Value::Array(list)) => list
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    kwargs.remove("ignore_errors");
    if let Some(extra) = kwargs.keys().next() {
        return Err((
            "TypeError",
            format!(
                "ThingDescriptionService.generate() got an unexpected keyword argument '{extra}'"
            ),
        ));
    }
    let protocol = match &protocol {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let cannot = |p: &str| {
        (
            "RuntimeError",
            format!(
                "This server cannot generate TD for {p} protocol, consider using thing model directly."
            ),
        )
    };
    let (req, events_href) = match protocol.to_lowercase().as_str() {
        "tcp" => ctx.tcp.clone().ok_or_else(|| cannot("TCP"))?,
        "ipc" => ctx.ipc.clone().ok_or_else(|| cannot("IPC"))?,
        "inproc" => return Err(cannot("INPROC")),
        _ => {
            return Err((
                "ValueError",
                format!("Unsupported protocol '{protocol}' for ZMQ."),
            ))
        }
    };
    let skipped = |n: &str| skip.iter().any(|s| s == n);
    let pub_href = events_href.unwrap_or_default();

    let mut props: Vec<&PropertyInfo> = properties.iter().filter(|p| !skipped(p.name)).collect();
    props.sort_by_key(|p| p.name);
    let mut pmap = Vec::new();
    for p in props {
        let is_observable = p.schema_type.is_none() || observable(p.name);
        let mut forms = vec![form(&req, "readproperty")];
        if p.writable {
            forms.push(form(&req, "writeproperty"));
        }
        if is_observable {
            forms.push(form(&pub_href, "observeproperty"));
        }
        let mut o = match p.schema_type {
            Some(t) => vec![
                ("description", plain(json!(""))),
                ("default", plain(p.default.clone())),
                ("type", plain(json!(t))),
            ],
            None => vec![
                ("description", plain(json!(STATE_DESCRIPTION))),
                ("readOnly", plain(json!(true))),
                (
                    "oneOf",
                    plain(json!([{"type": "string"}, {"type": "null"}])),
                ),
            ],
        };
        if is_observable {
            o.push(("observable", plain(json!(true))));
        }
        o.push(("forms", Ordered::Array(forms)));
        pmap.push((p.name.to_owned(), Ordered::obj(o)));
    }
    let mut acts: Vec<_> = actions.iter().filter(|(n, _)| !skipped(n)).collect();
    acts.sort_by_key(|(n, _)| *n);
    let amap = acts
        .into_iter()
        .map(|(name, doc)| {
            let a = Ordered::obj(vec![
                ("description", plain(json!(doc))),
                ("synchronous", plain(json!(true))),
                ("forms", Ordered::Array(vec![form(&req, "invokeaction")])),
            ]);
            ((*name).to_owned(), a)
        })
        .collect();
    let emap = ctx
        .events
        .iter()
        .filter(|e| !skipped(e))
        .map(|e| {
            let ev = Ordered::obj(vec![
                ("description", plain(json!(EVENT_DESCRIPTION))),
                (
                    "forms",
                    Ordered::Array(vec![form(&pub_href, "subscribeevent")]),
                ),
            ]);
            (e.clone(), ev)
        })
        .collect();
    Ok(Ordered::obj(vec![
        (
            "context",
            plain(json!(["https://www.w3.org/2022/wot/td/v1.1"])),
        ),
        ("id", plain(json!(id))),
        ("title", plain(json!(crate::execution_logs::THING_CLASS))),
        ("description", plain(json!(THING_DESCRIPTION))),
        ("properties", Ordered::Object(pmap)),
        ("actions", Ordered::Object(amap)),
        ("events", Ordered::Object(emap)),
    ]))
}
