//! pool-smol as a `pool_suite::Harness`: what the conformance suite, the live smoke test and the
//! round-trip bench run on.

use std::future::Future;

use pool_suite::Harness;

/// pool-smol on smol's global executor.
pub struct Smol;

impl Harness for Smol {
    type Rt = pool_smol::Smol;
    const NAME: &'static str = "smol";

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
}
