//! A transmit before its header is encoded: the fields the header is built from.
//!
//! The pool builds one for every transmit and encodes it itself ([`Pool::poll_transmit`]).
//! Handing it out unencoded (`Pool::poll_outgoing`) is not part of the driver's contract: it
//! lets the `lifecycle` bench measure the state machine without the JSON codec, so it is public
//! only with the non-default feature `bench-internals`.
//!
//! [`Pool::poll_transmit`]: super::Pool::poll_transmit

use super::{ServerId, TransmitKind};
use crate::id::MessageIdText;
use crate::wire::{self, RequestFields, RequestHeader, RequestKind};

/// A message to send whose header the caller encodes (`Pool::poll_outgoing`, feature
/// `bench-internals`).
#[derive(Debug)]
pub struct Outgoing<'a, R> {
    /// Which server's connection.
    pub server: ServerId,
    /// The message id of the header.
    pub message_id: MessageIdText,
    /// `senderID`: the client identity.
    pub sender_id: &'a str,
    /// `receiverID`: the server identity.
    pub receiver_id: &'a str,
    /// Spelling of the execution-context keys.
    pub key_style: wire::KeyStyle,
    /// The request's header fields.
    pub fields: RequestFields<'a>,
    /// What it is.
    pub kind: TransmitKind<'a, R>,
}

impl<R> Outgoing<'_, R> {
    /// The complete header, ready for [`wire::encode_request`].
    #[must_use]
    pub fn header(&self) -> RequestHeader<'_> {
        RequestHeader {
            kind: match self.kind {
                TransmitKind::Handshake => RequestKind::Handshake,
                TransmitKind::Request { .. } => RequestKind::Operation,
            },
            message_id: self.message_id.as_str(),
            sender_id: self.sender_id,
            receiver_id: self.receiver_id,
            key_style: self.key_style,
            fields: self.fields,
        }
    }
}
