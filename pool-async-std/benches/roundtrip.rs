//! Round-trip benchmark of pool-async-std against a raw zeromq DEALER on async-std; the
//! benchmark itself is `pool_suite::bench` (knobs and output are documented there).
//! `cargo bench -p pool-async-std --bench roundtrip`.
#![forbid(unsafe_code)]

use pool_suite::{bench, AsyncStd};

fn main() {
    bench::main(&[bench::runner::<AsyncStd>()]);
}
