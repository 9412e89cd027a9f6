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

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(traceback: &[&str], notes: &[&str]) -> Error {
        Error::Remote {
            thing: "t".to_owned(),
            server: "s".to_owned(),
            message_id: "m".to_owned(),
            kind: "ValueError".to_owned(),
            message: "boom".to_owned(),
            traceback: traceback.iter().map(|l| l.to_string()).collect(),
            notes: notes.iter().map(|l| l.to_string()).collect(),
            execution_logs: Vec::new(),
            payload: Default::default(),
        }
    }

    #[test]
    fn traceback_then_notes_one_escaped_line_each() {
        let error = remote(&["Traceback:\n", "  a\x1b[2J\n  b"], &["n1\nn2\n"]);
        assert_eq!(
            lines_of(&error),
            ["Traceback:", "  a\\u{1b}[2J", "  b", "n1", "n2"]
        );
        let members = json_of(&error).unwrap();
        assert_eq!(members["notes"], json!(["n1\nn2\n"]));
        assert!(lines_of(&remote(&[], &[])).is_empty());
    }

    #[test]
    fn other_errors_have_no_details() {
        let error = Error::NotReady {
            servers: vec!["s".to_owned()],
            after: std::time::Duration::from_secs(1),
        };
        assert!(lines_of(&error).is_empty());
        assert!(json_of(&error).is_none());
    }
}
