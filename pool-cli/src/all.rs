//! `mmpool all`: one request to every Thing at once.

use clap::Args;
use pool_tokio::{Error, Reply};
use serde_json::{json, Map, Value};

use crate::args::Servers;
use crate::call::{prepare, usage, Checks, Timeouts};
use crate::escape::json_text;
use crate::outcome::{exit_of, kind_of, message_of, Exit};
use crate::output::{stdout_line, write_failed};
use crate::remote_details;

/// The same request to every Thing; prints one JSON object,
/// `{thing: {"ok": value} | {"error": {"kind": .., "message": ..}}}`.
#[derive(Args, Debug)]
pub struct AllArgs {
    #[command(flatten)]
    pub servers: Servers,

    #[command(flatten)]
    pub timeouts: Timeouts,

    #[command(flatten)]
    pub checks: Checks,

    /// The operation: readproperty, writeproperty, invokeaction, readallproperties, ... (one
    /// of hololinked's 11; another is refused before anything is sent, unless
    /// --any-operation).
    pub operation: String,

    /// The property or action name (none for readallproperties and writeallproperties, whose
    /// one argument is the payload; see `mmpool call --help`).
    #[arg(allow_negative_numbers = true)]
    pub objekt: Option<String>,

    /// The payload as JSON: the value to write, or the action's keyword arguments. `@PATH`
    /// reads it from a file, `-` from stdin (to its end); at most 64 MiB either way. A JSON
    /// string is quoted, so one that starts with @ is still inline: '"@x"'.
    #[arg(allow_negative_numbers = true, value_name = "PAYLOAD|@PATH|-")]
    pub payload: Option<String>,
}

/// Runs `mmpool all`: exit 0 only if every Thing answered; otherwise the exit code of the first
/// Thing (by id) that did not; 1 or 141 if the object cannot be written (see [`crate::output`]).
pub async fn run(args: AllArgs) -> Exit {
    let (target, payload) = match prepare(&args.operation, &args.checks, args.objekt, args.payload)
    {
        Ok(prepared) => prepared,
        Err(e) => return usage(&e),
    };
    let pool = match args.timeouts.connecting(args.servers.builder()).build() {
        Ok(pool) => pool,
        Err(e) => return usage(&e.to_string()),
    };
    let mut request = target.request(String::new(), args.operation.clone());
    if let Some(payload) = &payload {
        request = request.json(payload);
    }
    let results = pool.execute_in_all(args.timeouts.apply(request)).await;
    pool.shutdown().await;
    let (object, exit) = summarize(results, args.checks.traceback);
    // The messages are the servers' text: `json_text` leaves no control character raw.
    match stdout_line(json_text(&Value::Object(object))) {
        Ok(()) => exit,
        Err(e) => write_failed(&e),
    }
}

/// The object of the results, and the exit code; with `traceback` a remote exception's
/// `"error"` also has its `"traceback"` and `"notes"`.
fn summarize(
    results: Vec<(String, Result<Reply, Error>)>,
    traceback: bool,
) -> (Map<String, Value>, Exit) {
    let mut object = Map::new();
    let mut exit = Exit::Ok;
    for (thing, result) in results {
        let entry = match result.and_then(|reply| reply.decode::<Value>()) {
            Ok(value) => json!({ "ok": value }),
            Err(error) => {
                if exit == Exit::Ok {
                    exit = exit_of(&error);
                }
                error_entry(&error, traceback)
            }
        };
        object.insert(thing, entry);
    }
    (object, exit)
}

/// `{"error": {"kind": .., "message": ..}}`, with `traceback` and a remote exception also its
/// `"traceback"` and `"notes"`.
fn error_entry(error: &Error, traceback: bool) -> Value {
    let mut details = Map::new();
    details.insert("kind".to_owned(), kind_of(error).into());
    details.insert("message".to_owned(), message_of(error).into());
    if traceback {
        details.extend(remote_details::json_of(error).unwrap_or_default());
    }
    json!({ "error": details })
}
