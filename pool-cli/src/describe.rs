//! `mmpool describe`: a Thing's Thing Description, fetched from its server
//! (`get_thing_description`), as a readable summary or as the JSON document itself.
//!
//! Invariants: one request; errors are reported as `mmpool call` reports them, with the same
//! exit codes; everything printed that came from the server is escaped (the summary by
//! [`crate::td_summary`], the JSON by [`pretty_json_text`]).

use std::time::Duration;

use clap::Args;
use pool_tokio::Pool;

use crate::args::{connect_timeout_for, seconds, Servers};
use crate::call::{report_error, usage};
use crate::escape::pretty_json_text;
use crate::outcome::Exit;
use crate::output::{write_failed, write_stdout};
use crate::td_summary::summary;

/// Fetches a Thing's Description and prints it.
#[derive(Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub servers: Servers,

    /// Client deadline in seconds: no Description by then ends the request (exit 5, or 6 if
    /// the server was never reachable).
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "10")]
    pub timeout: Duration,

    /// Print the Thing Description as JSON (pretty, one document) instead of the summary.
    #[arg(long)]
    pub json: bool,

    /// On a remote exception (exit 3), also print its traceback and notes, as the server sent
    /// them, one line each after the `Type: message` line on stderr.
    #[arg(long)]
    pub traceback: bool,

    /// The Thing (with one --server, any Thing id is sent to that server).
    pub thing: String,
}

/// Runs `mmpool describe`.
pub async fn run(args: DescribeArgs) -> Exit {
    let builder = args.servers.asking(&args.thing).builder();
    let builder = builder
        .request_timeout(args.timeout)
        .connect_timeout(connect_timeout_for(args.timeout));
    let pool = match builder.build() {
        Ok(pool) => pool,
        Err(e) => return usage(&e.to_string()),
    };
    let text = fetch(&pool, &args.thing, args.json).await;
    pool.shutdown().await;
    match text {
        Ok(text) => match write_stdout(&text) {
            Ok(()) => Exit::Ok,
            Err(e) => write_failed(&e),
        },
        Err(e) => report_error(&e, args.traceback),
    }
}

/// What to print: the summary, or with `json` the pretty JSON document and a newline.
async fn fetch(pool: &Pool, thing: &str, json: bool) -> Result<String, pool_tokio::Error> {
    let thing = pool.thing(thing);
    if json {
        let value = thing.describe_json().await?;
        Ok(format!("{}\n", pretty_json_text(&value)))
    } else {
        Ok(summary(&thing.describe().await?))
    }
}
