//! Round-trip benchmark of pool-async-std against a raw zeromq DEALER on async-std; the
//! benchmark itself is `pool_suite::bench` (knobs and output are documented there).
//! `cargo bench -p pool-async-std --bench roundtrip`.
#![forbid(unsafe_code)]

#[path = "../tests/harness/mod.rs"]
mod harness;

use harness::AsyncStd;
use pool_suite::bench;

fn main() {
    bench::main(&[bench::runner::<AsyncStd>()]);
}
