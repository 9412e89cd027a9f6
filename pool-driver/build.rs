//! Fails early, with a message that says what to do, when a build enables no zeromq runtime or
//! more than one. zeromq itself then fails too, but with errors (E0252 `rt_task` defined multiple
//! times, ...) that do not name the cause; this message does.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let runtimes: Vec<&str> = [
        ("CARGO_FEATURE_TOKIO_RUNTIME", "tokio-runtime (pool-tokio)"),
        (
            "CARGO_FEATURE_ASYNC_STD_RUNTIME",
            "async-std-runtime (pool-async-std)",
        ),
        (
            "CARGO_FEATURE_ASYNC_DISPATCHER_RUNTIME",
            "async-dispatcher-runtime (pool-smol, custom executors)",
        ),
    ]
    .into_iter()
    .filter(|(var, _)| std::env::var_os(var).is_some())
    .map(|(_, name)| name)
    .collect();
    match runtimes.len() {
        1 => {}
        0 => fail(
            "pool-driver needs exactly one zeromq runtime feature and this build enables none: \
             depend on one adapter (pool-tokio, pool-async-std or pool-smol), or enable one of \
             pool-driver's features tokio-runtime, async-std-runtime, async-dispatcher-runtime",
        ),
        _ => fail(&format!(
            "pool-driver was built with several zeromq runtimes at once ({}), which the zeromq \
             crate cannot compile: one build (one binary, or one cargo invocation) can use only \
             one of pool-tokio, pool-async-std and pool-smol. Build each in its own cargo \
             invocation (`-p <package>`, never `--workspace`).",
            runtimes.join(", ")
        )),
    }
}

/// Stops the build with `message` as cargo shows a build script's output (no backtrace).
fn fail(message: &str) {
    eprintln!("error: {message}");
    std::process::exit(1);
}
