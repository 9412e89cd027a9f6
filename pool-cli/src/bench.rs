//! `mmpool bench` (being written).

use clap::Args;

use crate::outcome::Exit;

/// Measure throughput and latency.
#[derive(Args, Debug)]
pub struct BenchArgs {}

/// Runs `mmpool bench`.
pub async fn run(_args: BenchArgs) -> Exit {
    Exit::Usage
}
