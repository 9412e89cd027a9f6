//! A successful reply: the payload frames as they arrived, without copies.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::Error;
use pool_core::wire::{CONTENT_TYPE_JSON, CONTENT_TYPE_POSTCARD};

/// The answer to a request: a `REPLY` message, or for a oneway request the confirmation that
/// it was handed to the transport.
///
/// The frames are reference-counted views of the received message: nothing is copied. The
/// content types are read from the header only when asked for.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) thing: Arc<str>,
    pub(crate) server: Arc<str>,
    pub(crate) message_id: pool_core::MessageIdText,
    pub(crate) header: Bytes,
    pub(crate) payload: Bytes,
    pub(crate) preserialized: Bytes,
    pub(crate) oneway: bool,
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

    /// The serialized return value (frame 3; `null` when the Thing returned nothing).
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
        self.header_string("payloadContentType")
            .unwrap_or_else(|| CONTENT_TYPE_JSON.to_owned())
    }

    /// `preencodedPayloadContentType` of the reply (empty when the header does not say).
    #[must_use]
    pub fn preserialized_content_type(&self) -> String {
        self.header_string("preencodedPayloadContentType")
            .unwrap_or_default()
    }

    fn header_string(&self, key: &str) -> Option<String> {
        let header: serde_json::Value = serde_json::from_slice(&self.header).ok()?;
        header.get(key)?.as_str().map(str::to_owned)
    }

    /// Decodes the payload as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(|e| self.decode_error(CONTENT_TYPE_JSON, &e))
    }

    /// The payload as a JSON value.
    pub fn value(&self) -> Result<serde_json::Value, Error> {
        self.json()
    }

    /// Decodes the payload as postcard into `T` (for Things that reply `application/x-postcard`).
    pub fn postcard<T: DeserializeOwned>(&self) -> Result<T, Error> {
        postcard::from_bytes(&self.payload)
            .map_err(|e| self.decode_error(CONTENT_TYPE_POSTCARD, &e))
    }

    fn decode_error(&self, content_type: &str, error: &dyn std::fmt::Display) -> Error {
        Error::Decode {
            thing: self.thing.to_string(),
            content_type: content_type.to_owned(),
            message: error.to_string(),
        }
    }
}
