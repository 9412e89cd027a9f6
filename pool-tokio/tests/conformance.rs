//! The conformance suite (pool-suite) on this adapter: every behaviour of the pool against
//! testkit servers, the same tests as on every other runtime, on both tokio schedulers.

mod multi_thread {
    pool_suite::conformance_tests!(pool_suite::TokioMultiThread);
}

mod current_thread {
    pool_suite::conformance_tests!(pool_suite::TokioCurrentThread);
}
