//! Round-trip benchmark of pool-tokio (multi-thread with 2 workers, and current-thread) against
//! a raw zeromq DEALER on the same runtime; the benchmark itself is `pool_suite::bench` (knobs
//! and output are documented there). `cargo bench -p pool-tokio --bench roundtrip`.
#![forbid(unsafe_code)]

#[path = "../tests/harness/mod.rs"]
mod harness;

use harness::{TokioCurrentThread, TokioMultiThread};
use pool_suite::bench;

fn main() {
    bench::main(&[
        bench::runner::<TokioMultiThread>(),
        bench::runner::<TokioCurrentThread>(),
    ]);
}
