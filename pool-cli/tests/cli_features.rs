//! What the `servers` feature adds: with it, `demo`, `serve`, `bench-events` (and `bench
//! --embedded`);
//! without it, they are unknown subcommands whose usage error says which feature has them,
//! and `--help` says so too.

mod common;

use common::run;

/// The subcommands the `servers` feature adds.
const SERVERS_SUBCOMMANDS: [&str; 3] = ["demo", "serve", "bench-events"];

#[cfg(feature = "servers")]
#[test]
fn the_default_build_has_the_servers_subcommands() {
    let r = run(&["--help"]);
    r.expect_code(0);
    for name in SERVERS_SUBCOMMANDS {
        assert!(
            r.stdout.contains(&format!("\n  {name} ")),
            "no {name}: {r:#?}"
        );
    }
    assert!(
        !r.stdout.contains("without the `servers` feature"),
        "{r:#?}"
    );
}

#[cfg(not(feature = "servers"))]
#[test]
fn without_servers_their_subcommands_say_which_feature_has_them() {
    for name in SERVERS_SUBCOMMANDS {
        let r = run(&[name, "--help"]);
        r.expect_code(2);
        let line = r.one_error_line();
        assert!(
            line.contains(&format!("`mmpool {name}` needs the `servers` feature")),
            "{r:#?}"
        );
    }
    let r = run(&["--help"]);
    r.expect_code(0);
    assert!(
        r.stdout.contains("built without the `servers` feature"),
        "{r:#?}"
    );
    for name in ["call", "all", "describe", "watch", "completions", "bench"] {
        assert!(
            r.stdout.contains(&format!("\n  {name} ")),
            "no {name}: {r:#?}"
        );
    }
}
