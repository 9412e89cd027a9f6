//! `mmpool completions <SHELL>`: a script on stdout for every shell clap_complete knows, the
//! bash one valid bash that offers the subcommands; an unknown shell is a usage error; a closed
//! stdout is a quiet 141.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use std::process::{Command, Stdio};

use common::{mmpool_path, run, wait_bounded};

/// The subcommands every build has (and so every script offers).
const SUBCOMMANDS: [&str; 5] = ["call", "all", "describe", "watch", "completions"];

#[test]
fn the_bash_script_is_valid_bash_naming_the_subcommands() {
    let r = run(&["completions", "bash"]);
    r.expect_code(0);
    assert_eq!(r.stderr, "", "{r:#?}");
    for subcommand in SUBCOMMANDS {
        assert!(r.stdout.contains(subcommand), "no {subcommand}: {r:#?}");
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("mmpool.bash");
    std::fs::write(&script, &r.stdout).expect("the script can be written");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash can be run");
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(&["completions", shell]);
        r.expect_code(0);
        assert!(r.stdout.contains("mmpool"), "{shell}: {r:#?}");
        assert!(r.stdout.contains("describe"), "{shell}: {r:#?}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let r = run(&["completions", "tcsh"]);
    r.expect_code(2);
    assert_eq!(r.stdout, "", "{r:#?}");
    assert!(
        r.stderr.contains("tcsh") && r.stderr.contains("bash"),
        "{r:#?}"
    );
    run(&["completions"]).expect_code(2);
}

#[test]
fn a_closed_stdout_is_a_quiet_141() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut child = Command::new(mmpool_path())
        .args(["completions", "bash"])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("mmpool can be started");
    let status = wait_bounded(&mut child);
    let stderr = std::io::read_to_string(child.stderr.take().expect("stderr is piped"))
        .expect("stderr is text");
    assert_eq!(status.code(), Some(141), "{stderr}");
    assert_eq!(stderr, "", "no message for a closed pipe");
}
