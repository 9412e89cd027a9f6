//! Talk to a hololinked Thing through its handle: describe it, read, write, invoke.
//!
//! ```sh
//! cargo run -p pool-tokio --example hello -- my-thing tcp://127.0.0.1:5555 [property] [action]
//! ```
//! The server id is the hololinked server's id (its ROUTER identity); its Thing is assumed to
//! have the same id. With no endpoint, hololinked's default IPC path for the id is used.
use std::time::Duration;

use pool_tokio::{hololinked_ipc_endpoint, Pool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let id = args.next().unwrap_or_else(|| "test-thing".into());
    let endpoint = args
        .next()
        .or_else(|| hololinked_ipc_endpoint(&id))
        .ok_or("give an endpoint (HOME is not set)")?;
    let property = args.next().unwrap_or_else(|| "number".into());
    let action = args.next().unwrap_or_else(|| "ping".into());

    let pool = Pool::builder().server(&id, &endpoint).build()?;
    pool.ready(Duration::from_secs(5)).await?;
    // Fetch the Thing Description: from now on, names are checked before any request.
    let thing = pool.thing(&id).checked().await?;
    let td = thing.description().ok_or("no description")?;
    println!(
        "{id}: {} ({} properties, {} actions, {} events)",
        td.title,
        td.properties.len(),
        td.actions.len(),
        td.events.len()
    );
    let value: serde_json::Value = thing.read(&property).await?;
    println!("{id}.{property} = {value}");
    if !td.properties[&property].read_only {
        thing.write(&property, &value).await?;
    }
    let returned: serde_json::Value = thing.invoke(&action, &()).await?;
    println!("{id}.{action}() = {returned}");
    pool.shutdown().await;
    Ok(())
}
