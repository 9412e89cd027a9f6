//! `mmpool all`: one request to every Thing at once.

use clap::Args;
use pool_tokio::{Error, Reply};
use serde_json::{json, Map, Value};

use crate::args::Servers;
use crate::call::{parse_payload, usage, Timeouts};
use crate::escape::json_text;
use crate::objekt::Target;
use crate::outcome::{exit_of, kind_of, message_of, Exit};
use crate::output::{stdout_line, write_failed};

/// The same request to every Thing; prints one JSON object,
/// `{thing: {"ok": value} | {"error": {"kind": .., "message": ..}}}`.
#[derive(Args, Debug)]
pub struct AllArgs {
    #[command(flatten)]
    pub servers: Servers,

    #[command(flatten)]
    pub timeouts: Timeouts,

    /// The operation: readproperty, writeproperty, invokeaction, readallproperties, ...
    pub operation: String,

    /// The property or action name (none for readallproperties and writeallproperties, whose
    /// one argument is the payload; see `mmpool call --help`).
    #[arg(allow_negative_numbers = true)]
    pub objekt: Option<String>,

    /// The payload as JSON: the value to write, or the action's keyword arguments.
    #[arg(allow_negative_numbers = true)]
    pub payload: Option<String>,
}

/// Runs `mmpool all`: exit 0 only if every Thing answered; otherwise the exit code of the first
/// Thing (by id) that did not; 1 or 141 if the object cannot be written (see [`crate::output`]).
pub async fn run(args: AllArgs) -> Exit {
    let target = match Target::of(&args.operation, args.objekt, args.payload) {
        Ok(target) => target,
        Err(e) => return usage(&e),
    };
    let payload = match parse_payload(target.payload.as_deref()) {
        Ok(payload) => payload,
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
    let (object, exit) = summarize(results);
    // The messages are the servers' text: `json_text` leaves no control character raw.
    match stdout_line(json_text(&Value::Object(object))) {
        Ok(()) => exit,
        Err(e) => write_failed(&e),
    }
}

fn summarize(results: Vec<(String, Result<Reply, Error>)>) -> (Map<String, Value>, Exit) {
    let mut object = Map::new();
    let mut exit = Exit::Ok;
    for (thing, result) in results {
        let entry = match result.and_then(|reply| reply.decode::<Value>()) {
            Ok(value) => json!({ "ok": value }),
            Err(error) => {
                if exit == Exit::Ok {
                    exit = exit_of(&error);
                }
                json!({ "error": { "kind": kind_of(&error), "message": message_of(&error) } })
            }
        };
        object.insert(thing, entry);
    }
    (object, exit)
}
