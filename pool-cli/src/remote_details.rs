//! `--traceback`: what a remote exception carries beyond its `Type: message` line, its
//! traceback and its notes (Python's `add_note`; hololinked's reasons a `_set_properties`
//! failed).
//!
//! Invariants: nothing for any other error; the server's lines are printed in its order,
//! traceback first, then notes (as Python prints them), a line with newlines inside split into
//! lines and every line escaped ([`escape_controls`]), so no server text reaches a terminal
//! raw and no entry can fake an output line.

use pool_tokio::Error;
use serde_json::{json, Map, Value};

use crate::escape::escape_controls;
use crate::output::stderr_line;

/// The lines `--traceback` prints after a remote exception's `Type: message` line (none for
/// other errors, or when the server sent neither traceback nor notes).
pub fn lines_of(error: &Error) -> Vec<String> {
    let Error::Remote {
        traceback, notes, ..
    } = error
    else {
        return Vec::new();
    };
    traceback
        .iter()
        .chain(notes)
        .flat_map(|entry| entry.trim_end_matches(['\n', '\r']).lines())
        .map(|line| escape_controls(line).into_owned())
        .collect()
}

/// Prints [`lines_of`] `error` on stderr.
pub fn print(error: &Error) {
    for line in lines_of(error) {
        stderr_line(line);
    }
}

/// The members `mmpool all --traceback` adds to a remote exception's `"error"` object:
/// `"traceback"` and `"notes"`, the server's strings unchanged (escaped when the JSON is
/// written); `None` for other errors.
pub fn json_of(error: &Error) -> Option<Map<String, Value>> {
    let Error::Remote {
        traceback, notes, ..
    } = error
    else {
        return None;
    };
    let mut members = Map::new();
    members.insert("traceback".to_owned(), json!(traceback));
    members.insert("notes".to_owned(), json!(notes));
    Some(members)
}
