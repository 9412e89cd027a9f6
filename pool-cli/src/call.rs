//! `mmpool call`: one request to one Thing.

use std::time::Duration;

use base64::Engine;
use clap::Args;
use pool_tokio::{Error, PoolBuilder, Reply, Request};
use serde_json::Value;

use crate::args::{connect_timeout_for, seconds, Servers};
use crate::escape::{escape_controls, json_text};
use crate::objekt::Target;
use crate::outcome::{exit_of, message_of, Exit};
use crate::output::{stderr_line, write_failed, write_stdout};
use crate::{known_operation, payload, remote_details};

/// One request to one Thing; the reply's payload is printed as JSON on stdout.
#[derive(Args, Debug)]
pub struct CallArgs {
    #[command(flatten)]
    pub servers: Servers,

    #[command(flatten)]
    pub timeouts: Timeouts,

    /// Send and do not wait for a reply (the server sends none).
    #[arg(long)]
    pub oneway: bool,

    /// Also print the reply's preserialized (binary) frame, base64 as a JSON string, on a
    /// second line of stdout.
    #[arg(long)]
    pub raw: bool,

    #[command(flatten)]
    pub checks: Checks,

    /// The Thing (with one --server, any Thing id is sent to that server).
    pub thing: String,

    /// The operation: readproperty, writeproperty, invokeaction, readmultipleproperties,
    /// readallproperties, ... (one of hololinked's 11; another is refused before anything is
    /// sent, unless --any-operation).
    pub operation: String,

    /// The property or action name (comma separated for readmultipleproperties, which reads
    /// every property without it). readallproperties and writeallproperties take none: their
    /// one argument is the payload.
    #[arg(allow_negative_numbers = true)]
    pub objekt: Option<String>,

    /// The payload as JSON: the value to write, or the action's keyword arguments. `@PATH`
    /// reads it from a file, `-` from stdin (to its end); at most 64 MiB either way. A JSON
    /// string is quoted, so one that starts with @ is still inline: '"@x"'.
    #[arg(allow_negative_numbers = true, value_name = "PAYLOAD|@PATH|-")]
    pub payload: Option<String>,
}

/// The checks and reports `call` and `all` share beside the request itself.
#[derive(Args, Debug, Clone)]
pub struct Checks {
    /// Send the operation as given, even if it is none of hololinked's 11 operation names (for
    /// a server with operations of its own). Without it an unknown operation is a usage error
    /// (exit 2) that names the closest known one, and nothing is sent.
    #[arg(long)]
    pub any_operation: bool,

    /// On a remote exception (exit 3), also print its traceback and notes, as the server sent
    /// them, one line each after the `Type: message` line on stderr (`mmpool all`: as
    /// "traceback" and "notes" arrays in the Thing's "error" object).
    #[arg(long)]
    pub traceback: bool,
}

/// Deadlines of a request, client- and server-side.
#[derive(Args, Debug, Clone)]
pub struct Timeouts {
    /// Client deadline in seconds: no reply by then ends the request (exit 5, or 6 if the
    /// server was never reachable). It also raises the server-side limits not given below to
    /// itself (from the pool's default 5 s), so `--timeout 30` lets an action run for 30 s.
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "10")]
    pub timeout: Duration,

    /// Server-side limit in seconds on waiting in the Thing's queue (hololinked's invokation
    /// timeout); when absent, the pool's default 5 s or --timeout, whichever is longer.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub invokation_timeout: Option<Duration>,

    /// Server-side limit in seconds on running the operation (hololinked's execution
    /// timeout; exit 4 when it passes); when absent, the pool's default 5 s or --timeout,
    /// whichever is longer.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub execution_timeout: Option<Duration>,
}

impl Timeouts {
    /// `builder` with connection attempts that end before the client deadline
    /// ([`connect_timeout_for`]).
    pub fn connecting(&self, builder: PoolBuilder) -> PoolBuilder {
        builder.connect_timeout(connect_timeout_for(self.timeout))
    }

    /// `request` with these deadlines.
    pub fn apply(&self, mut request: Request) -> Request {
        request = request.timeout(self.timeout);
        if self.invokation_timeout.is_some() {
            request = request.invokation_timeout(self.invokation_timeout);
        }
        if self.execution_timeout.is_some() {
            request = request.execution_timeout(self.execution_timeout);
        }
        request
    }
}

/// Checks `operation` and reads the positionals after it: the target and the payload (read
/// from its file or stdin, see [`crate::payload`]); a usage error's line otherwise. Nothing
/// has connected yet.
pub fn prepare(
    operation: &str,
    checks: &Checks,
    objekt: Option<String>,
    payload: Option<String>,
) -> Result<(Target, Option<Value>), String> {
    known_operation::check(operation, checks.any_operation)?;
    let target = Target::of(operation, objekt, payload)?;
    let payload = target.payload.as_deref().map(payload::read).transpose()?;
    Ok((target, payload))
}

/// Runs `mmpool call`; errors are printed on stderr, one line (and with --traceback the
/// remote exception's traceback and notes after it).
pub async fn run(args: CallArgs) -> Exit {
    let (target, payload) = match prepare(&args.operation, &args.checks, args.objekt, args.payload)
    {
        Ok(prepared) => prepared,
        Err(e) => return usage(&e),
    };
    let builder = args.servers.asking(&args.thing).builder();
    let pool = match args.timeouts.connecting(builder).build() {
        Ok(pool) => pool,
        Err(e) => return usage(&e.to_string()),
    };
    let mut request = target.request(args.thing.clone(), args.operation.clone());
    if let Some(payload) = &payload {
        request = request.json(payload);
    }
    request = args.timeouts.apply(request).oneway(args.oneway);
    let outcome = pool.call(request).await;
    let exit = report(outcome, args.raw, args.checks.traceback);
    // `shutdown` waits until every message is handed to its socket; zeromq then writes it from
    // its own task, and has no linger or flush to wait for. A oneway request has no reply that
    // would prove it left, so keep the runtime alive a moment before the process exits.
    pool.shutdown().await;
    if args.oneway {
        tokio::time::sleep(ONEWAY_LINGER).await;
    }
    exit
}

/// How long `call --oneway` lets zeromq's writer run after the pool has shut down.
const ONEWAY_LINGER: Duration = Duration::from_millis(100);

fn report(outcome: Result<Reply, Error>, raw: bool, traceback: bool) -> Exit {
    match outcome {
        Ok(reply) if reply.is_oneway() => {
            stderr_line("sent (oneway: no reply)");
            Exit::Ok
        }
        // JSON or msgpack, printed as JSON.
        Ok(reply) => match reply.decode::<Value>() {
            Ok(value) => match print_reply(&reply, &value, raw) {
                Ok(()) => Exit::Ok,
                Err(e) => write_failed(&e),
            },
            Err(e) => {
                stderr_line(format_args!("error: {}", escape_controls(&message_of(&e))));
                exit_of(&e)
            }
        },
        Err(e) => report_error(&e, traceback),
    }
}

/// Prints a failed request's one line on stderr (with `traceback`, a remote exception's
/// traceback and notes after it: [`remote_details`]) and returns its exit code.
pub fn report_error(error: &Error, traceback: bool) -> Exit {
    let exit = exit_of(error);
    // Configuration mistakes read like every other usage error.
    let prefix = if exit == Exit::Usage { "error: " } else { "" };
    // The message may hold the server's text (an exception's type and message).
    stderr_line(format_args!(
        "{prefix}{}",
        escape_controls(&message_of(error))
    ));
    if traceback {
        remote_details::print(error);
    }
    exit
}

/// Writes the reply's payload (and with `raw` its preserialized bytes) to stdout.
fn print_reply(reply: &Reply, value: &Value, raw: bool) -> std::io::Result<()> {
    let mut text = json_text(value);
    text.push('\n');
    let bytes = reply.preserialized();
    if raw {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        text.push_str(&json_text(&Value::String(encoded)));
        text.push('\n');
    }
    write_stdout(&text)?;
    if !raw && !bytes.is_empty() {
        stderr_line(format_args!(
            "note: the reply also carries {} preserialized bytes ({}); --raw prints them",
            bytes.len(),
            escape_controls(&reply.preserialized_content_type())
        ));
    }
    Ok(())
}

/// Prints a usage error (control characters escaped) and returns its exit code.
pub fn usage(message: &str) -> Exit {
    stderr_line(format_args!("error: {}", escape_controls(message)));
    Exit::Usage
}
