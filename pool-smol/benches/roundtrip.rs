//! Round-trip benchmark of pool-smol against a raw zeromq DEALER on smol; the benchmark itself
//! is `pool_suite::bench` (knobs and output are documented there).
//! `cargo bench -p pool-smol --bench roundtrip`.
#![forbid(unsafe_code)]

#[path = "../tests/harness/mod.rs"]
mod harness;

use harness::Smol;
use pool_suite::bench;

fn main() {
    bench::main(&[bench::runner::<Smol>()]);
}
