//! Examples of pool-core and pool-driver outside the three runtime adapters.
//!
//! This library is empty on purpose: the package exists for its examples, and a library target
//! keeps `cargo test -p pool-examples` and `cargo doc` working without special cases.
//!
//! * `examples/blocking.rs`: the sans-IO core (`pool-core`) with no async runtime at all:
//!   one thread, a blocking `zmq::poll` loop over libzmq DEALER sockets, wall-clock time fed
//!   in as an input. It shows that the core is transport- and runtime-agnostic.
//! * `examples/custom_executor.rs`: the async pool (`pool-driver`) on
//!   `futures::executor::ThreadPool`, through zeromq's dispatcher path: the way to embed the
//!   pool in an executor that no adapter crate covers (implement `Runtime`, call
//!   `install_dispatcher` once, build with `build_on`).
//!
//! ```sh
//! cargo run -p pool-examples --example blocking          # two in-process test servers
//! cargo run -p pool-examples --example custom_executor   # one in-process test server
//! cargo test -p pool-examples                            # runs both tours as tests
//! ```
//!
//! Both exit with an error on any wrong result, and both take `SERVER_ID=ENDPOINT` arguments
//! to talk to real hololinked servers instead.
#![forbid(unsafe_code)]
