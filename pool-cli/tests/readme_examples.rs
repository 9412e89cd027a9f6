//! README.md's command-line examples run against the stand-ins it offers: every `mmpool
//! describe|call|all|watch ...` line of its `sh` code blocks, with the servers its `mmpool serve
//! ... --id ID` lines start.
//!
//! How: every README serve line is started (all in one temporary HOME, so `ipc` paths land
//! there) with its `--bind`s replaced by `tcp://127.0.0.1:0` and `ipc`; in each example only the
//! endpoint parts change (`ID=tcp://...` becomes the served tcp endpoint of ID; `ID=ipc` stays,
//! and finds the served socket under that HOME). Each example must exit 0 with a sensible
//! stdout: JSON for `call`, an object of `ok`s for `all`, a summary for `describe`, event lines
//! for `watch` (a `watch` without `--count` gets `--count 1`, and a `--property` one is fed
//! writes until its change comes).
//!
//! Lines waiting for pool-testkit's fake Thing to grow `integration_time`, `acquire` and
//! `get_thing_description` (another branch) fail until it lands; the test is written for that
//! final state.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{mmpool, run_with, Background, Run};
use serde_json::Value;

/// README.md, from the workspace root.
fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `mmpool ...` command lines of the `sh` code blocks, as words (comments and a trailing
/// `&` dropped; the `mmpool() { ... }` function line is not a command).
fn command_lines(markdown: &str) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if let Some(fence) = trimmed.strip_prefix("```") {
            in_sh = !in_sh && fence.trim() == "sh";
            continue;
        }
        if in_sh && trimmed.starts_with("mmpool ") {
            let mut words = shell_words(trimmed);
            if words.last().is_some_and(|w| w == "&") {
                words.pop();
            }
            lines.push(words);
        }
    }
    lines
}

/// `line` split as a POSIX shell splits simple words: blanks separate, single and double quotes
/// group (no escapes or expansions are used in the README's examples), `#` starts a comment.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, '#') if word.is_none() => break,
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "an unclosed quote in {line:?}");
    words.extend(word);
    words
}

/// The value after `flag` in `words`.
fn flag_value<'a>(words: &'a [String], flag: &str) -> Option<&'a str> {
    let i = words.iter().position(|w| w == flag)?;
    words.get(i + 1).map(String::as_str)
}

/// `words` without any `--bind VALUE`, with `--bind tcp://127.0.0.1:0 --bind ipc` instead.
fn local_binds(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        if word == "--bind" {
            iter.next();
        } else {
            out.push(word.clone());
        }
    }
    for bind in ["tcp://127.0.0.1:0", "ipc"] {
        out.extend(["--bind".to_owned(), bind.to_owned()]);
    }
    out
}

/// The README's stand-ins, running in one HOME.
struct StandIns {
    home: tempfile::TempDir,
    /// Each server id's tcp endpoint.
    tcp: BTreeMap<String, String>,
    _processes: Vec<Background>,
}

impl StandIns {
    /// Starts every README serve line (with local binds).
    fn start(serve_lines: &[Vec<String>]) -> StandIns {
        let home = tempfile::tempdir().unwrap();
        let mut tcp = BTreeMap::new();
        let mut processes = Vec::new();
        for line in serve_lines {
            let id = flag_value(line, "--id")
                .unwrap_or_else(|| panic!("a README serve line without --id: {line:?}"))
                .to_owned();
            let args = local_binds(&line[1..]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut process = Background::spawn_with_env(&args, &[("HOME", home.path())]);
            let mut ready = Vec::new();
            while ready.len() < 2 {
                let line = process
                    .next_line()
                    .unwrap_or_else(|| panic!("serve {id} ended: {:#?}", process.finish()));
                match line.strip_prefix("READY ") {
                    Some(endpoint) => ready.push(endpoint.to_owned()),
                    None => panic!("serve {id}: not a READY line: {line:?}"),
                }
            }
            assert!(ready[1].starts_with("ipc://"), "{id}: {ready:?}");
            tcp.insert(id, ready[0].clone());
            processes.push(process);
        }
        StandIns {
            home,
            tcp,
            _processes: processes,
        }
    }

    /// `words` (after `mmpool`) with each `--server ID=tcp://...` pointing at the stand-in ID.
    fn localize(&self, words: &[String]) -> Vec<String> {
        let mut out: Vec<String> = words.to_vec();
        for i in 0..out.len() {
            if out[i] != "--server" || i + 1 >= out.len() {
                continue;
            }
            let (id, endpoint) = out[i + 1]
                .split_once('=')
                .unwrap_or_else(|| panic!("--server without ID=ENDPOINT in {words:?}"));
            if endpoint == "ipc" {
                continue;
            }
            let served = self.tcp.get(id).unwrap_or_else(|| {
                panic!("the README starts no stand-in with --id {id} for {words:?}")
            });
            out[i + 1] = format!("{id}={served}");
        }
        out
    }

    /// Runs `mmpool ARGS` in the stand-ins' HOME.
    fn run(&self, args: &[String]) -> Run {
        run_with(mmpool().args(args).env("HOME", self.home.path()))
    }
}

/// Asserts `r` ran `example` well: exit 0, and stdout as its subcommand prints.
fn check(example: &[String], r: &Run) {
    let ctx = format!("README example `{}`", example.join(" "));
    assert_eq!(r.code, Some(0), "{ctx}: {r:#?}");
    match example[1].as_str() {
        "call" => {
            let value: Value = serde_json::from_str(r.stdout.trim())
                .unwrap_or_else(|e| panic!("{ctx}: stdout is not JSON ({e}); {r:#?}"));
            let operation = positionals(example).get(1).cloned().unwrap_or_default();
            match operation.as_str() {
                "readallproperties" => assert!(value.is_object(), "{ctx}: {value}"),
                "writeproperty" => assert!(value.is_null(), "{ctx}: {value}"),
                "invokeaction" if example.iter().any(|w| w == "acquire") => {
                    let n = acquire_n(example);
                    let values = value.as_array().unwrap_or_else(|| panic!("{ctx}: {value}"));
                    assert_eq!(values.len(), n, "{ctx}: {value}");
                    assert!(values.iter().all(Value::is_number), "{ctx}: {value}");
                }
                _ => {}
            }
        }
        "all" => {
            let value: Value = serde_json::from_str(r.stdout.trim())
                .unwrap_or_else(|e| panic!("{ctx}: stdout is not JSON ({e}); {r:#?}"));
            let object = value
                .as_object()
                .unwrap_or_else(|| panic!("{ctx}: {value}"));
            let servers = example.iter().filter(|w| *w == "--server").count();
            assert_eq!(object.len(), servers, "{ctx}: {value}");
            assert!(
                object.values().all(|v| v.get("ok").is_some()),
                "{ctx}: {value}"
            );
        }
        "describe" => {
            assert!(r.stdout.starts_with("thing "), "{ctx}: {r:#?}");
            assert!(r.stdout.contains("\nproperties\n"), "{ctx}: {r:#?}");
        }
        "watch" => {
            let lines = r.stdout_lines();
            assert!(!lines.is_empty(), "{ctx}: {r:#?}");
            for line in lines {
                let event: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{ctx}: not JSON ({e}): {line:?}"));
                assert_eq!(event["kind"], "event", "{ctx}: {line}");
            }
        }
        other => panic!("{ctx}: no check for `mmpool {other}`"),
    }
}

/// The positional words after the subcommand (flags and their values skipped; every flag of
/// the README's examples but `--json` and `--raw` takes a value).
fn positionals(example: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = example.iter().skip(2);
    while let Some(word) = iter.next() {
        if word.starts_with("--") {
            if !matches!(word.as_str(), "--json" | "--raw" | "--oneway") {
                iter.next();
            }
        } else {
            out.push(word.clone());
        }
    }
    out
}

/// `n` of an `acquire` example's payload (1 by default, as the action's).
fn acquire_n(example: &[String]) -> usize {
    positionals(example)
        .get(3)
        .and_then(|payload| serde_json::from_str::<Value>(payload).ok())
        .and_then(|payload| payload.get("n")?.as_u64())
        .map_or(1, |n| n as usize)
}

/// Runs a `watch` example: with `--count 1` if it has no end of its own; a `--property` one in
/// the background, fed distinct writes of the property until its change event comes.
fn run_watch(stand_ins: &StandIns, example: &[String], args: &[String]) -> Run {
    let mut args = args.to_vec();
    if !args.iter().any(|w| w == "--count" || w == "--duration") {
        args.extend(["--count".to_owned(), "1".to_owned()]);
    }
    let Some(property) = flag_value(&args, "--property").map(str::to_owned) else {
        return stand_ins.run(&args);
    };
    let server = flag_value(&args, "--server").expect("a watch example names its server");
    let thing = positionals(example)[0].clone();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut watch = Background::spawn_with_env(&words, &[("HOME", stand_ins.home.path())]);
    // PUB/SUB: writes before the subscription reaches the publisher are lost; write until one
    // comes back.
    for k in 1..=200 {
        let value = format!("{}", 0.5 + f64::from(k));
        let write = [
            "call",
            "--server",
            server,
            &thing,
            "writeproperty",
            &property,
            &value,
        ];
        let write: Vec<String> = write.iter().map(|w| (*w).to_owned()).collect();
        let r = stand_ins.run(&write);
        assert_eq!(
            r.code,
            Some(0),
            "writing {property} for {example:?}: {r:#?}"
        );
        if watch.next_line_within(Duration::from_millis(300)).is_some() {
            return watch.finish();
        }
    }
    panic!("{example:?}: no change event of {property} after 200 writes");
}

#[test]
fn the_readmes_command_line_examples_run_against_its_stand_ins() {
    let lines = command_lines(&readme());
    let (serves, examples): (Vec<_>, Vec<_>) = lines
        .into_iter()
        .filter(|l| {
            matches!(
                l.get(1).map(String::as_str),
                Some("serve" | "call" | "all" | "describe" | "watch")
            )
        })
        .partition(|l| l[1] == "serve");
    assert!(
        examples.iter().filter(|l| l[1] == "call").count() >= 2
            && examples.iter().any(|l| l[1] == "all"),
        "the README shows call and all examples: {examples:?}"
    );
    let stand_ins = StandIns::start(&serves);
    let mut failed = Vec::new();
    for example in &examples {
        let args = stand_ins.localize(&example[1..]);
        let r = if example[1] == "watch" {
            run_watch(&stand_ins, example, &args)
        } else {
            stand_ins.run(&args)
        };
        // Every example is tried; the failures are reported together.
        if let Err(e) = std::panic::catch_unwind(|| check(example, &r)) {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "a failed check".to_owned());
            failed.push(message);
        }
    }
    assert!(
        failed.is_empty(),
        "{} README examples failed:\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

#[test]
fn shell_words_split_as_a_shell_does() {
    assert_eq!(
        shell_words(r#"mmpool call a '{"n": 10}' "x y" --t 3   # comment"#),
        ["mmpool", "call", "a", r#"{"n": 10}"#, "x y", "--t", "3"]
    );
    assert_eq!(shell_words("a '' b"), ["a", "", "b"]);
    let md = "text\n```sh\nmmpool() { x; }\nmmpool serve --id a &\n```\nmmpool call no\n```rust\nmmpool call no\n```\n";
    assert_eq!(command_lines(md), [["mmpool", "serve", "--id", "a"]]);
}
