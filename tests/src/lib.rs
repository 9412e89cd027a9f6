//! The live-interop tests of the pool against real hololinked servers are this package's
//! integration tests (`tests/interop.rs`); it has no library code of its own. Their fixtures (the
//! Python-server harness and the raw hololinked client) are pool-testkit's `python` and
//! `raw_client`, and the part every runtime shares is pool-suite's `interop` module.
#![forbid(unsafe_code)]
