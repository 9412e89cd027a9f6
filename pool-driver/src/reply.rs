//! A successful reply: the payload frames as they arrived, without copies, decoded as their
//! content type says when asked.
//!
//! Invariants:
//! * nothing is decoded until a caller asks, and the header is read only for its content type;
//! * a payload is decoded only as the content type its header names (absent: JSON, hololinked's
//!   default): asking for JSON from a msgpack payload is an [`Error::Decode`] that says so, never
//!   a misreading;
//! * for a request that asked for execution logs, the value is the `return_value` part, and the
//!   logs come apart ([`Reply::execution_logs`]).

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::execution_log::{self, ExecutionLog};
use crate::preview::Preview;
use pool_core::wire::{
    payload_content_type, CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK, CONTENT_TYPE_POSTCARD,
};

/// The answer to a request: a `REPLY` message, or for a oneway request the confirmation that
/// it was handed to the transport.
///
/// The frames are reference-counted views of the received message: nothing is copied. The
/// content types are read from the header only when asked for.
#[derive(Clone)]
pub struct Reply {
    pub(crate) thing: Arc<str>,
    pub(crate) server: Arc<str>,
    pub(crate) message_id: pool_core::MessageIdText,
    pub(crate) header: Bytes,
    pub(crate) payload: Bytes,
    pub(crate) preserialized: Bytes,
    pub(crate) oneway: bool,
    /// The request asked for execution logs: the payload is `{"return_value", "execution_logs"}`.
    pub(crate) with_logs: bool,
}

/// Whom the reply is from, its message id, and its payload frames cut short (never a whole
/// buffer).
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("thing", &&*self.thing)
            .field("server", &&*self.server)
            .field("message_id", &self.message_id.as_str())
            .field("oneway", &self.oneway)
            .field("payload", &Preview(&self.payload))
            .field("preserialized", &Preview(&self.preserialized))
            .finish_non_exhaustive()
    }
}

/// How a payload is serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Msgpack,
    Postcard,
    Other,
}

impl Reply {
    /// The Thing that answered.
    #[must_use]
    pub fn thing(&self) -> &str {
        &self.thing
    }

    /// The server that answered.
    #[must_use]
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The request's message id.
    #[must_use]
    pub fn message_id(&self) -> &str {
        self.message_id.as_str()
    }

    /// `true` for a oneway request: it was sent, and no reply was waited for.
    #[must_use]
    pub fn is_oneway(&self) -> bool {
        self.oneway
    }

    /// The serialized return value (frame 3; `null` when the Thing returned nothing), as the
    /// server sent it (for a request with execution logs, the whole `{"return_value", ..}`).
    #[must_use]
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The preserialized frame (frame 4): raw bytes the Thing returned, empty when none.
    #[must_use]
    pub fn preserialized(&self) -> &Bytes {
        &self.preserialized
    }

    /// The raw reply header (JSON).
    #[must_use]
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// `payloadContentType` of the reply (`application/json` when the header does not say).
    #[must_use]
    pub fn payload_content_type(&self) -> String {
        payload_content_type(&self.header)
            .map_or_else(|| CONTENT_TYPE_JSON.to_owned(), |ct| ct.as_str().to_owned())
    }

    /// `preencodedPayloadContentType` of the reply (empty when the header does not say).
    #[must_use]
    pub fn preserialized_content_type(&self) -> String {
        let header: Option<serde_json::Value> = serde_json::from_slice(&self.header).ok();
        header
            .as_ref()
            .and_then(|h| h.get("preencodedPayloadContentType")?.as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// Decodes the payload as JSON into `T`. A payload of another content type (msgpack, say)
    /// is an [`Error::Decode`] that names it: use [`decode`](Self::decode) for whatever the
    /// Thing sends.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.expect(Format::Json, CONTENT_TYPE_JSON)?;
        self.decode_as(Format::Json)
    }

    /// The payload as a JSON value (a msgpack payload is an error that says so; see
    /// [`json`](Self::json)).
    pub fn value(&self) -> Result<serde_json::Value, Error> {
        self.json()
    }

    /// Decodes a msgpack payload (`application/msgpack`) into `T`.
    pub fn msgpack<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.expect(Format::Msgpack, CONTENT_TYPE_MSGPACK)?;
        self.decode_as(Format::Msgpack)
    }

    /// Decodes the payload as postcard into `T` (for Things that reply `application/x-postcard`).
    pub fn postcard<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.expect(Format::Postcard, CONTENT_TYPE_POSTCARD)?;
        self.decode_as(Format::Postcard)
    }

    /// Decodes the payload into `T` as its content type says: JSON, msgpack or postcard.
    ///
    /// ```no_run
    /// # async fn example<Rt: pool_driver::Runtime>(pool: pool_driver::Pool<Rt>) -> Result<(), pool_driver::Error> {
    /// let spectrum: Vec<f64> = pool.invoke_action("spectrometer", "acquire", &()).await?.decode()?;
    /// # Ok(()) }
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let format = self.format();
        if format == Format::Other {
            let ct = self.payload_content_type();
            return Err(self.decode_error(&ct, &"no decoder for this content type"));
        }
        self.decode_as(format)
    }

    /// The Thing's log lines recorded while it ran the request, for a request that asked for
    /// them ([`Request::fetch_execution_logs`](crate::Request::fetch_execution_logs)); empty
    /// otherwise.
    #[must_use]
    pub fn execution_logs(&self) -> Vec<ExecutionLog> {
        /// The logs part of a msgpack payload.
        #[derive(serde::Deserialize)]
        struct Logs {
            #[serde(default)]
            execution_logs: Vec<ExecutionLog>,
        }
        match (self.with_logs, self.format()) {
            (true, Format::Json) => execution_log::logs_of(&self.payload),
            (true, Format::Msgpack) => rmp_serde::from_slice::<Logs>(&self.payload)
                .map(|l| l.execution_logs)
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn format(&self) -> Format {
        match payload_content_type(&self.header) {
            None => Format::Json,
            Some(ct) => match ct.as_str() {
                CONTENT_TYPE_JSON | "" => Format::Json,
                CONTENT_TYPE_MSGPACK | "application/x-msgpack" => Format::Msgpack,
                CONTENT_TYPE_POSTCARD => Format::Postcard,
                _ => Format::Other,
            },
        }
    }

    /// An error unless the payload is in `format`.
    fn expect(&self, format: Format, name: &str) -> Result<(), Error> {
        if self.format() == format {
            return Ok(());
        }
        let actual = self.payload_content_type();
        Err(self.decode_error(
            name,
            &format_args!(
                "the payload is {actual}, not {name} (Reply::decode reads what the Thing sends)"
            ),
        ))
    }

    fn decode_as<T: DeserializeOwned>(&self, format: Format) -> Result<T, Error> {
        match format {
            Format::Json => {
                let bytes = if self.with_logs {
                    execution_log::return_value(&self.payload).unwrap_or(&self.payload)
                } else {
                    &self.payload
                };
                serde_json::from_slice(bytes).map_err(|e| self.decode_error(CONTENT_TYPE_JSON, &e))
            }
            Format::Msgpack if self.with_logs => {
                /// `{"return_value": .., "execution_logs": [..]}` in msgpack: the value only.
                #[derive(serde::Deserialize)]
                struct WithLogs<T> {
                    return_value: T,
                }
                rmp_serde::from_slice::<WithLogs<T>>(&self.payload)
                    .map(|parts| parts.return_value)
                    .map_err(|e| self.decode_error(CONTENT_TYPE_MSGPACK, &e))
            }
            Format::Msgpack => rmp_serde::from_slice(&self.payload)
                .map_err(|e| self.decode_error(CONTENT_TYPE_MSGPACK, &e)),
            Format::Postcard | Format::Other => postcard::from_bytes(&self.payload)
                .map_err(|e| self.decode_error(CONTENT_TYPE_POSTCARD, &e)),
        }
    }

    fn decode_error(&self, content_type: &str, error: &dyn std::fmt::Display) -> Error {
        Error::Decode {
            thing: self.thing.to_string(),
            content_type: content_type.to_owned(),
            message: error.to_string(),
        }
    }
}
