//! What a caller asks for ([`Request`]), and what the pool keeps per request ([`Job`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::oneshot;
use serde::Serialize;

use crate::error::Error;
use crate::preview::Preview;
use crate::reply::Reply;
use pool_core::pool::RequestSpec;
use pool_core::wire::{
    RequestFields, ServerContext, ThingContext, CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK,
    CONTENT_TYPE_POSTCARD, CONTENT_TYPE_TEXT, NULL_PAYLOAD,
};

/// hololinked's operation names, every one of its `Operations` (docs/protocol.md §15).
pub mod operation {
    /// Read a property.
    pub const READ_PROPERTY: &str = "readproperty";
    /// Write a property (payload: the value).
    pub const WRITE_PROPERTY: &str = "writeproperty";
    /// Delete a property (hololinked Things refuse it: `NotImplementedError`).
    pub const DELETE_PROPERTY: &str = "deleteproperty";
    /// Observe a property: over ZMQ this is a subscription to its change event
    /// ([`Pool::observe_property`](crate::Pool::observe_property)), not a request.
    pub const OBSERVE_PROPERTY: &str = "observeproperty";
    /// Read several properties (`objekt`: comma-separated names; JSON `null` for all).
    pub const READ_MULTIPLE_PROPERTIES: &str = "readmultipleproperties";
    /// Write several properties (0.4.x only; prefer the `_set_properties` action).
    pub const WRITE_MULTIPLE_PROPERTIES: &str = "writemultipleproperties";
    /// Read every property (`objekt`: JSON `null`).
    pub const READ_ALL_PROPERTIES: &str = "readallproperties";
    /// Write every property given (0.4.x only; prefer the `_set_properties` action).
    pub const WRITE_ALL_PROPERTIES: &str = "writeallproperties";
    /// Invoke an action (payload: keyword arguments, `__args__` for positional ones).
    pub const INVOKE_ACTION: &str = "invokeaction";
    /// Subscribe to an event: over ZMQ a SUB subscription
    /// ([`Pool::subscribe_event`](crate::Pool::subscribe_event)), not a request.
    pub const SUBSCRIBE_EVENT: &str = "subscribeevent";
    /// Unsubscribe from an event (hololinked's spelling, one `e`).
    pub const UNSUBSCRIBE_EVENT: &str = "unsubscribevent";

    /// Every operation name hololinked defines.
    pub const ALL: [&str; 11] = [
        READ_PROPERTY,
        WRITE_PROPERTY,
        DELETE_PROPERTY,
        OBSERVE_PROPERTY,
        READ_MULTIPLE_PROPERTIES,
        WRITE_MULTIPLE_PROPERTIES,
        READ_ALL_PROPERTIES,
        WRITE_ALL_PROPERTIES,
        INVOKE_ACTION,
        SUBSCRIBE_EVENT,
        UNSUBSCRIBE_EVENT,
    ];
}

/// A request to one Thing (or, for [`Pool::execute_in_all`](crate::Pool::execute_in_all), to
/// every Thing): operation, `objekt`, payload frames and execution contexts.
///
/// ```
/// use pool_driver::Request;
/// use std::time::Duration;
///
/// let request = Request::invoke_action("spectrometer", "acquire")
///     .kwargs(&serde_json::json!({"n": 10}))
///     .execution_timeout(Some(Duration::from_secs(2)))
///     .timeout(Duration::from_secs(5));
/// assert_eq!(request.thing(), "spectrometer");
/// ```
#[derive(Clone)]
#[must_use]
pub struct Request {
    pub(crate) thing: String,
    pub(crate) operation: Cow<'static, str>,
    pub(crate) objekt: Option<String>,
    pub(crate) payload: Bytes,
    pub(crate) payload_content_type: Cow<'static, str>,
    pub(crate) preserialized: Bytes,
    pub(crate) preserialized_content_type: Cow<'static, str>,
    pub(crate) invokation_timeout: Option<Option<Duration>>,
    pub(crate) execution_timeout: Option<Option<Duration>>,
    pub(crate) fetch_execution_logs: bool,
    pub(crate) oneway: bool,
    pub(crate) timeout: Option<Option<Duration>>,
    pub(crate) encode_error: Option<String>,
}

/// Every setting of the request, its payload frames cut short (never a whole buffer).
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("thing", &self.thing)
            .field("operation", &self.operation)
            .field("objekt", &self.objekt)
            .field("payload", &Preview(&self.payload))
            .field("payload_content_type", &self.payload_content_type)
            .field("preserialized", &Preview(&self.preserialized))
            .field(
                "preserialized_content_type",
                &self.preserialized_content_type,
            )
            .field("invokation_timeout", &self.invokation_timeout)
            .field("execution_timeout", &self.execution_timeout)
            .field("fetch_execution_logs", &self.fetch_execution_logs)
            .field("oneway", &self.oneway)
            .field("timeout", &self.timeout)
            .field("encode_error", &self.encode_error)
            .finish()
    }
}

impl Request {
    /// A request for `operation` on `objekt` of `thing`, with a `null` JSON payload.
    pub fn new(
        thing: impl Into<String>,
        operation: impl Into<Cow<'static, str>>,
        objekt: impl Into<String>,
    ) -> Request {
        let mut request = Request::without_objekt(thing, operation);
        request.objekt = Some(objekt.into());
        request
    }

    /// A request for `operation` on the whole of `thing`: its `objekt` is JSON `null`.
    pub fn without_objekt(
        thing: impl Into<String>,
        operation: impl Into<Cow<'static, str>>,
    ) -> Request {
        Request {
            thing: thing.into(),
            operation: operation.into(),
            objekt: None,
            payload: Bytes::from_static(NULL_PAYLOAD),
            payload_content_type: Cow::Borrowed(CONTENT_TYPE_JSON),
            preserialized: Bytes::new(),
            preserialized_content_type: Cow::Borrowed(CONTENT_TYPE_TEXT),
            invokation_timeout: None,
            execution_timeout: None,
            fetch_execution_logs: false,
            oneway: false,
            timeout: None,
            encode_error: None,
        }
    }

    /// Reads property `name`.
    pub fn read_property(thing: impl Into<String>, name: impl Into<String>) -> Request {
        Request::new(thing, operation::READ_PROPERTY, name)
    }

    /// Writes property `name`; set the value with [`json`](Self::json).
    pub fn write_property(thing: impl Into<String>, name: impl Into<String>) -> Request {
        Request::new(thing, operation::WRITE_PROPERTY, name)
    }

    /// Invokes action `name`; give arguments with [`kwargs`](Self::kwargs) or
    /// [`args`](Self::args).
    pub fn invoke_action(thing: impl Into<String>, name: impl Into<String>) -> Request {
        Request::new(thing, operation::INVOKE_ACTION, name)
    }

    /// Reads every property of `thing` (`readallproperties`, `objekt` `null`); the reply is a
    /// JSON object `{name: value}`.
    pub fn read_all_properties(thing: impl Into<String>) -> Request {
        Request::without_objekt(thing, operation::READ_ALL_PROPERTIES)
    }

    /// Reads the properties `names` of `thing` at once (`readmultipleproperties`); the reply is
    /// a JSON object `{name: value}`.
    pub fn read_multiple_properties(thing: impl Into<String>, names: &[&str]) -> Request {
        Request::new(thing, operation::READ_MULTIPLE_PROPERTIES, names.join(","))
    }

    /// Invokes action `name` on every Thing (for `execute_in_all`).
    pub fn invoke_all(name: impl Into<String>) -> Request {
        Request::new(String::new(), operation::INVOKE_ACTION, name)
    }

    /// The Thing this request is for.
    #[must_use]
    pub fn thing(&self) -> &str {
        &self.thing
    }

    /// The operation.
    #[must_use]
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The `objekt` (property or action name); `None` for an operation on the whole Thing.
    #[must_use]
    pub fn objekt(&self) -> Option<&str> {
        self.objekt.as_deref()
    }

    /// The same request for another Thing.
    pub fn to_thing(mut self, thing: impl Into<String>) -> Request {
        self.thing = thing.into();
        self
    }

    /// The payload: `value` as JSON (a property value, or an action's keyword arguments).
    /// A value that cannot be encoded makes the request fail with [`Error::Encode`].
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Request {
        self.encoded(serde_json::to_vec(value), CONTENT_TYPE_JSON)
    }

    /// An action's keyword arguments (a JSON object), same as [`json`](Self::json).
    pub fn kwargs<T: Serialize + ?Sized>(self, kwargs: &T) -> Request {
        self.json(kwargs)
    }

    /// An action's positional arguments: hololinked's `{"__args__": [...]}` payload.
    pub fn args<T: Serialize + ?Sized>(self, args: &T) -> Request {
        #[derive(Serialize)]
        struct Positional<'a, T: ?Sized> {
            __args__: &'a T,
        }
        self.json(&Positional { __args__: args })
    }

    /// The payload as msgpack (`application/msgpack`, which hololinked servers decode as they
    /// decode JSON). Structs are written as maps, with their field names.
    pub fn msgpack<T: Serialize + ?Sized>(self, value: &T) -> Request {
        self.encoded(rmp_serde::to_vec_named(value), CONTENT_TYPE_MSGPACK)
    }

    /// The payload as postcard bytes (`application/x-postcard`).
    pub fn postcard<T: Serialize + ?Sized>(self, value: &T) -> Request {
        self.encoded(postcard::to_allocvec(value), CONTENT_TYPE_POSTCARD)
    }

    /// The payload an encoder made, or the encoder's error for the request to fail with.
    fn encoded<E: std::fmt::Display>(
        mut self,
        encoded: Result<Vec<u8>, E>,
        content_type: &'static str,
    ) -> Request {
        match encoded {
            Ok(bytes) => {
                self.payload = Bytes::from(bytes);
                self.payload_content_type = Cow::Borrowed(content_type);
            }
            Err(e) => self.encode_error = Some(e.to_string()),
        }
        self
    }

    /// An already serialized payload frame and its content type. An empty JSON or msgpack
    /// payload makes the request fail with [`Error::Encode`]: hololinked servers decode every
    /// payload, and one that does not decode can end a Thing's executor (docs/protocol.md §14),
    /// so "nothing" is `null` (the default).
    pub fn payload(
        mut self,
        bytes: impl Into<Bytes>,
        content_type: impl Into<Cow<'static, str>>,
    ) -> Request {
        self.payload = bytes.into();
        self.payload_content_type = content_type.into();
        if self.payload.is_empty()
            && matches!(
                &*self.payload_content_type,
                CONTENT_TYPE_JSON | CONTENT_TYPE_MSGPACK
            )
        {
            self.encode_error = Some(format!(
                "an empty {} payload cannot be sent (it can stop the Thing's executor on a \
                 hololinked server); send `null` for no value",
                self.payload_content_type
            ));
        }
        self
    }

    /// The preserialized frame: raw bytes passed to the Thing as they are (for a property
    /// write, the value; for an action, the first positional argument).
    pub fn preserialized(
        mut self,
        bytes: impl Into<Bytes>,
        content_type: impl Into<Cow<'static, str>>,
    ) -> Request {
        self.preserialized = bytes.into();
        self.preserialized_content_type = content_type.into();
        self
    }

    /// Server-side limit on waiting in the Thing's queue (`None`: no limit). Default: the
    /// pool's.
    pub fn invokation_timeout(mut self, timeout: Option<Duration>) -> Request {
        self.invokation_timeout = Some(timeout);
        self
    }

    /// Server-side limit on execution (`None`: no limit). Default: the pool's.
    pub fn execution_timeout(mut self, timeout: Option<Duration>) -> Request {
        self.execution_timeout = Some(timeout);
        self
    }

    /// Ask the server to return the Thing's log lines with the result: the reply's value is
    /// then the return value as before, the lines are [`Reply::execution_logs`], and an
    /// exception carries them too ([`Error::Remote`]'s `execution_logs`).
    pub fn fetch_execution_logs(mut self, fetch: bool) -> Request {
        self.fetch_execution_logs = fetch;
        self
    }

    /// Oneway: the server sends no reply; the request ends once it is handed to the socket.
    pub fn oneway(mut self, oneway: bool) -> Request {
        self.oneway = oneway;
        self
    }

    /// The client deadline for this request (default: the pool's request timeout). The
    /// server-side limits this request does not set itself
    /// ([`invokation_timeout`](Self::invokation_timeout),
    /// [`execution_timeout`](Self::execution_timeout)) are raised to it when the pool's
    /// defaults are shorter, so a request given 30 s can run for 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(Some(timeout));
        self
    }

    /// No client deadline for this request (it still ends if its server is lost). The
    /// server-side limits it does not set itself are lifted too.
    pub fn no_timeout(mut self) -> Request {
        self.timeout = Some(None);
        self
    }
}

/// Where a finished request's result goes.
pub(crate) type Waiter = oneshot::Sender<Result<Reply, Error>>;

/// What the core keeps in a request's slot: the caller's request (header fields and payload
/// frames, moved in, not copied), the resolved contexts and the waiter.
pub(crate) struct Job {
    pub(crate) request: Request,
    pub(crate) thing: Arc<str>,
    pub(crate) server: Arc<str>,
    pub(crate) server_context: ServerContext,
    pub(crate) thing_context: ThingContext,
    pub(crate) timeout: Option<Duration>,
    pub(crate) waiter: Option<Waiter>,
    pub(crate) span: tracing::Span,
}

impl RequestSpec for Job {
    fn fields(&self) -> RequestFields<'_> {
        let request = &self.request;
        RequestFields {
            thing_id: &self.thing,
            objekt: request.objekt.as_deref(),
            operation: &request.operation,
            payload_content_type: &request.payload_content_type,
            preencoded_content_type: &request.preserialized_content_type,
            server_context: self.server_context,
            thing_context: self.thing_context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hololinked_operation_once_with_its_spelling() {
        // hololinked's `Operations` (0.4.2 and 0.3.12 alike), `unsubscribevent` with one `e`.
        let mut names = operation::ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 11);
        assert!(names.contains(&"unsubscribevent") && names.contains(&"readallproperties"));
    }

    #[test]
    fn whole_thing_requests_carry_a_null_objekt_and_names_join_with_commas() {
        assert_eq!(Request::read_all_properties("t").objekt(), None);
        let r = Request::read_multiple_properties("t", &["a", "b"]);
        assert_eq!(
            (r.operation(), r.objekt()),
            ("readmultipleproperties", Some("a,b"))
        );
        assert_eq!(Request::read_property("t", "p").objekt(), Some("p"));
    }

    #[test]
    fn empty_json_or_msgpack_payloads_are_refused_and_others_are_not() {
        for ct in [CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK] {
            let r = Request::write_property("t", "p").payload(Bytes::new(), ct);
            assert!(
                r.encode_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("null"),
                "{ct}"
            );
        }
        let r = Request::write_property("t", "p").payload(Bytes::new(), CONTENT_TYPE_TEXT);
        assert!(r.encode_error.is_none());
        let r = Request::write_property("t", "p").msgpack(&7.5);
        assert_eq!(&r.payload[..], b"\xcb\x40\x1e\x00\x00\x00\x00\x00\x00");
        assert_eq!(r.payload_content_type, CONTENT_TYPE_MSGPACK);
    }
}
