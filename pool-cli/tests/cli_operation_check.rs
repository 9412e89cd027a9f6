//! `call` and `all` check the operation against hololinked's 11 before anything connects: a
//! typo is a usage error that suggests the closest one; `--any-operation` sends it as given,
//! and the server's answer comes back.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use common::{closed_tcp_endpoint, run};

/// A typo is exit 2 with a suggestion, against a server nothing listens on: exit 2 rather than
/// 6 (which would come only at the client deadline, here a minute, the test's hang bound)
/// shows the check came before any connection attempt.
#[test]
fn a_misspelt_operation_is_a_usage_error_with_a_suggestion() {
    let server = format!("srv={}", closed_tcp_endpoint());
    let call = [
        "call",
        "--server",
        &server,
        "--timeout",
        "60",
        "srv",
        "readprop",
        "x",
    ];
    let all = [
        "all",
        "--server",
        &server,
        "--timeout",
        "60",
        "readprop",
        "x",
    ];
    for args in [&call[..], &all[..]] {
        let r = run(args);
        r.expect_code(2);
        let line = r.one_error_line();
        assert!(
            line.starts_with("error: unknown operation `readprop`"),
            "{r:#?}"
        );
        assert!(line.contains("did you mean `readproperty`?"), "{r:#?}");
        assert!(
            line.contains("invokeaction") && line.contains("--any-operation"),
            "{r:#?}"
        );
        assert_eq!(r.stdout, "", "{r:#?}");
    }
}

/// With `--any-operation` the name goes to the server, whose answer (the fake Thing raises
/// NotImplementedError for an operation it does not know) comes back: exit 3, not 2.
#[cfg(feature = "servers")]
#[test]
fn any_operation_sends_the_name_as_given() {
    let (_serve, endpoints) = common::serve(&["--bind", "tcp://127.0.0.1:0", "--id", "srv"]);
    let server = format!("srv={}", endpoints[0]);
    let r = run(&[
        "call",
        "--server",
        &server,
        "--any-operation",
        "srv",
        "readprop",
        "x",
    ]);
    r.expect_code(3);
    let line = r.one_error_line();
    assert!(line.starts_with("NotImplementedError: "), "{r:#?}");
    assert!(line.contains("readprop"), "{r:#?}");
    let r = run(&[
        "all",
        "--server",
        &server,
        "--any-operation",
        "readprop",
        "x",
    ]);
    r.expect_code(3);
    assert_eq!(
        r.json()["srv"]["error"]["kind"],
        "remote_exception",
        "{r:#?}"
    );
}
