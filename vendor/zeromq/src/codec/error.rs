use thiserror::Error;

/// Represents an error when encoding/decoding raw byte buffers and frames
#[non_exhaustive]
#[derive(Error, Debug)]
pub enum CodecError {
    #[error("{0}")]
    Command(&'static str),
    #[error("{0}")]
    Greeting(&'static str),
    #[error("{0}")]
    Mechanism(&'static str),
    #[error("{0}")]
    Decode(&'static str),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(&'static str),
    /// A frame header announced more bytes than `SocketOptions::max_message_size` allows for
    /// one message (or one command); `size` counts the message's earlier frames too.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge { size: u64, limit: usize },
    /// A message has more frames than `SocketOptions::max_message_frames` allows.
    #[error("message has more than {limit} frames")]
    TooManyFrames { limit: usize },
}

pub(crate) type CodecResult<T> = Result<T, CodecError>;
