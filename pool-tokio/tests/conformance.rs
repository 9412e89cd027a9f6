//! The conformance suite (pool-suite) on this adapter: every behaviour of the pool against
//! testkit servers, the same tests as on every other runtime, on both tokio schedulers.

mod harness;

mod multi_thread {
    pool_suite::conformance_tests!(super::harness::TokioMultiThread);
}

mod current_thread {
    pool_suite::conformance_tests!(super::harness::TokioCurrentThread);
}
