//! The conformance suite (pool-suite) on this adapter: every behaviour of the pool against
//! testkit servers, the same tests as on every other runtime.

mod harness;

pool_suite::conformance_tests!(harness::Smol);
