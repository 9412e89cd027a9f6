//! How a request's outcome becomes an exit code and one line of text.

use std::process::ExitCode;

use pool_tokio::Error;

/// The exit codes of `mmpool call` and `mmpool all`, and of the other subcommands where they
/// apply (documented in `--help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// A reply.
    Ok = 0,
    /// A check failed (the demo, a benchmark whose replies were wrong), or the output could not
    /// be written (e.g. stdout is a full disk).
    Failed = 1,
    /// Bad arguments or configuration (clap uses 2 for usage errors too).
    Usage = 2,
    /// The server raised an exception.
    RemoteException = 3,
    /// The server gave up (invokation or execution timeout).
    ServerTimeout = 4,
    /// No reply by the client's deadline, from a server that was reachable.
    ClientTimeout = 5,
    /// The server could not be reached, or the connection broke.
    Unreachable = 6,
    /// The server refused the message (for instance an unknown Thing), or sent garbage.
    InvalidMessage = 7,
    /// Stdout is a pipe whose reader is gone: ended quietly, with the status a shell shows for
    /// a process killed by SIGPIPE (128 + 13).
    OutputClosed = 141,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The exit code for `error`.
pub fn exit_of(error: &Error) -> Exit {
    match error {
        Error::Remote { .. } => Exit::RemoteException,
        Error::ServerTimeout { .. } => Exit::ServerTimeout,
        Error::Timeout {
            server_ready: false,
            ..
        }
        | Error::Disconnected { .. }
        | Error::Closed { .. }
        | Error::NotReady { .. } => Exit::Unreachable,
        Error::Timeout { .. } => Exit::ClientTimeout,
        Error::InvalidMessage { .. } | Error::Decode { .. } | Error::ReplyTooLarge { .. } => {
            Exit::InvalidMessage
        }
        _ => Exit::Usage,
    }
}

/// A short machine-readable name of the error's kind (`mmpool all`'s `"kind"`).
pub fn kind_of(error: &Error) -> &'static str {
    match exit_of(error) {
        Exit::RemoteException => "remote_exception",
        Exit::ServerTimeout => "server_timeout",
        Exit::ClientTimeout => "timeout",
        Exit::Unreachable => match error {
            Error::Disconnected { .. } => "disconnected",
            _ => "unreachable",
        },
        Exit::InvalidMessage => "invalid_message",
        Exit::Usage | Exit::Ok | Exit::Failed | Exit::OutputClosed => "error",
    }
}

/// One line for a human: `Type: message` for a remote exception, the error otherwise (a
/// server timeout's names invokation or execution).
pub fn message_of(error: &Error) -> String {
    match error {
        Error::Remote { kind, message, .. } => format!("{kind}: {message}"),
        other => other.to_string(),
    }
}
