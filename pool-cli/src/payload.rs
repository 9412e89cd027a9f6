//! The payload argument of `call` and `all`: inline JSON, `@PATH` (a file's contents) or `-`
//! (stdin to its end).
//!
//! Invariants: at most [`MAX_PAYLOAD_BYTES`] are read from a file or from stdin, and a file
//! known to be longer is refused before anything is read; whatever is read must be one JSON
//! value; every failure is one line that names where the payload came from (a usage error).
//! A literal JSON string that begins with `@` is no conflict: JSON strings are quoted
//! (`'"@x"'`), so an inline payload that starts with `@` is never valid JSON anyway.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde_json::Value;

/// The most bytes a payload file or stdin may hold (64 MiB).
pub const MAX_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// Where a payload comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source<'a> {
    /// The argument itself is the JSON.
    Inline(&'a str),
    /// `@PATH`: the file's contents.
    File(&'a str),
    /// `-`: stdin, to its end.
    Stdin,
}

impl<'a> Source<'a> {
    /// What the argument `arg` names.
    pub fn of(arg: &'a str) -> Source<'a> {
        match arg {
            "-" => Source::Stdin,
            _ => match arg.strip_prefix('@') {
                Some(path) => Source::File(path),
                None => Source::Inline(arg),
            },
        }
    }
}

/// Reads and parses the payload argument `arg` (see the module documentation).
pub fn read(arg: &str) -> Result<Value, String> {
    match Source::of(arg) {
        Source::Inline(text) => {
            serde_json::from_str(text).map_err(|e| format!("the payload is not JSON ({e}): {text}"))
        }
        Source::File(path) => {
            let bytes = read_file(Path::new(path))
                .map_err(|e| format!("cannot read the payload file {path:?}: {e}"))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| format!("the payload file {path:?} is not JSON ({e})"))
        }
        Source::Stdin => {
            let bytes = read_bounded(io::stdin().lock())
                .map_err(|e| format!("cannot read the payload from stdin: {e}"))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| format!("the payload on stdin is not JSON ({e})"))
        }
    }
}

/// The contents of the file at `path`, refused unread if its length is above the limit (and
/// bounded while reading, for a file that grows or a FIFO that reports no length).
fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    if path.as_os_str().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no path after `@`",
        ));
    }
    let file = File::open(path)?;
    let length = file.metadata()?.len();
    if length > MAX_PAYLOAD_BYTES {
        return Err(too_large());
    }
    read_bounded(file)
}

/// Everything `reader` yields, or an error once it yields more than [`MAX_PAYLOAD_BYTES`].
fn read_bounded(reader: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(MAX_PAYLOAD_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than the limit of {MAX_PAYLOAD_BYTES} bytes (64 MiB)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    #[test]
    fn the_argument_names_its_source() {
        assert_eq!(Source::of("-"), Source::Stdin);
        assert_eq!(Source::of("@a.json"), Source::File("a.json"));
        assert_eq!(Source::of("@"), Source::File(""));
        assert_eq!(Source::of("\"@x\""), Source::Inline("\"@x\""));
        assert_eq!(Source::of("-1"), Source::Inline("-1"));
        assert_eq!(read("\"@x\""), Ok(json!("@x")));
        assert_eq!(read("-1.5"), Ok(json!(-1.5)));
    }

    #[test]
    fn a_file_payload_is_read_and_checked() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"{\"value\": [1, 2]}\n").unwrap();
        let arg = format!("@{}", file.path().display());
        assert_eq!(read(&arg), Ok(json!({"value": [1, 2]})));
        let e = read("@").unwrap_err();
        assert!(e.contains("no path after `@`"), "{e}");
    }

    #[test]
    fn reading_stops_past_the_limit() {
        let limit = MAX_PAYLOAD_BYTES as usize;
        let spaces = |n: usize| io::repeat(b' ').take(n as u64);
        assert_eq!(read_bounded(spaces(limit)).unwrap().len(), limit);
        let e = read_bounded(spaces(limit + 1)).unwrap_err();
        assert!(e.to_string().contains("64 MiB"), "{e}");
        // A file known to be too long is refused before it is read (a sparse file here).
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(MAX_PAYLOAD_BYTES + 1).unwrap();
        let e = read(&format!("@{}", file.path().display())).unwrap_err();
        assert!(
            e.contains("cannot read the payload file") && e.contains("64 MiB"),
            "{e}"
        );
    }
}
