//! README.md's library example, used as a newcomer uses it: a new crate whose `[dependencies]`
//! are the README's first `toml` block and whose `src/main.rs` is the README's first `rust`
//! block, built by cargo and run against an `mmpool serve` stand-in.
//!
//! Only two things change on the way, both written here: the adapter comes from this checkout
//! (`pool-tokio = "0.1"` becomes `pool-tokio = { path = ".../pool-tokio" }`, as the README says
//! to do from a clone), and the example's endpoint becomes the one the stand-in serves. The
//! crate is built offline with the versions this workspace's Cargo.lock pins (it is copied in),
//! into a target directory of its own under this workspace's target directory, so a second run
//! rebuilds nothing.
#![cfg(feature = "servers")] // the stand-in is `mmpool serve`

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (the directory of README.md and Cargo.lock).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("pool-cli lives in the workspace root")
        .to_path_buf()
}

/// The body of the first fenced block of `language` in `markdown` (its lines, fences left out).
fn first_block(markdown: &str, language: &str) -> String {
    let mut lines = markdown.lines();
    let opening = format!("```{language}");
    lines
        .by_ref()
        .find(|line| line.trim() == opening)
        .unwrap_or_else(|| panic!("README.md has no ```{language} block"));
    let body: Vec<&str> = lines.take_while(|line| line.trim() != "```").collect();
    body.join("\n") + "\n"
}

/// The README's dependency lines with each workspace crate pointed at this checkout
/// (`name = "0.1"` becomes `name = { path = ROOT/dir }`). Other lines stay as they are.
fn dependencies_from_checkout(toml: &str, root: &Path) -> String {
    const LOCAL: &[(&str, &str)] = &[
        ("pool-tokio", "pool-tokio"),
        ("pool-async-std", "pool-async-std"),
        ("pool-smol", "pool-smol"),
        ("pool-driver", "pool-driver"),
        ("pool-core", "pool-core"),
    ];
    let mut rewritten = 0;
    let lines: Vec<String> = toml
        .lines()
        .map(|line| {
            let name = line.split('=').next().unwrap_or("").trim();
            match LOCAL.iter().find(|(crate_name, _)| *crate_name == name) {
                Some((crate_name, dir)) => {
                    rewritten += 1;
                    let path = root.join(dir);
                    format!(
                        "{crate_name} = {{ path = {:?} }}",
                        path.display().to_string()
                    )
                }
                None => line.to_owned(),
            }
        })
        .collect();
    assert_eq!(
        rewritten, 1,
        "the README's first toml block names exactly one of the workspace's crates: {toml}"
    );
    lines.join("\n") + "\n"
}

/// Writes the new crate into `dir`: Cargo.toml (a workspace of its own), src/main.rs and the
/// workspace's Cargo.lock (so the build takes the pinned versions, offline).
fn write_crate(dir: &Path, dependencies: &str, main_rs: &str, root: &Path) {
    assert!(
        dependencies.trim_start().starts_with("[dependencies]"),
        "the README's first toml block is a [dependencies] section: {dependencies}"
    );
    let manifest = format!(
        "[package]\nname = \"readme-example\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[workspace]\n\n{dependencies}"
    );
    std::fs::create_dir_all(dir.join("src")).expect("create the crate's src/");
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::write(dir.join("src/main.rs"), main_rs).expect("write src/main.rs");
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
}

/// Builds the crate in `dir` with the cargo that runs this test; the path of its binary.
fn build(dir: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-crate-target");
    let status = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .status()
        .expect("cargo can be started");
    assert!(
        status.success(),
        "the README example crate builds: {status}"
    );
    target.join("debug").join("readme-example")
}

#[test]
fn the_readme_example_builds_in_a_new_crate_and_runs_against_mmpool_serve() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let toml = first_block(&readme, "toml");
    let example = first_block(&readme, "rust");
    let example_endpoint = "tcp://127.0.0.1:5555";
    assert!(
        example.contains(example_endpoint),
        "the README's first example connects to {example_endpoint}:\n{example}"
    );

    let (serve, endpoints) =
        common::serve(&["--bind", "tcp://127.0.0.1:0", "--id", "spectrometer"]);
    let main_rs = example.replace(example_endpoint, &endpoints[0]);

    let dir = tempfile::tempdir().expect("a temporary directory");
    write_crate(
        dir.path(),
        &dependencies_from_checkout(&toml, &root),
        &main_rs,
        &root,
    );
    let binary = build(dir.path());

    let run = common::run_with(
        assert_cmd::Command::new(&binary).timeout(std::time::Duration::from_secs(60)),
    );
    run.expect_code(0);
    // The example doubles the integration time and acquires 10 samples, i * integration_time
    // for i in 0..10, printed with `{:?}` (which for a list of floats is also JSON).
    let printed = run.stdout_lines();
    let spectrum: Vec<f64> = serde_json::from_str(printed.last().expect("one printed line"))
        .unwrap_or_else(|e| panic!("the example prints the spectrum as a list ({e}): {run:#?}"));
    assert_eq!(spectrum.len(), 10, "{run:#?}");
    let step = spectrum[1] - spectrum[0];
    assert!(step > 0.0, "the spectrum rises: {spectrum:?}");
    for (i, value) in spectrum.iter().enumerate() {
        assert!((value - i as f64 * step).abs() < 1e-9, "{spectrum:?}");
    }

    // The write reached the server: the stand-in now reports the doubled value.
    let server = format!("spectrometer={}", endpoints[0]);
    let read = common::run(&[
        "call",
        "--server",
        &server,
        "spectrometer",
        "readproperty",
        "integration_time",
        "--timeout",
        "10",
    ]);
    read.expect_code(0);
    let now = read.json().as_f64().expect("integration_time is a number");
    assert!(
        (now - step).abs() < 1e-9,
        "read {now}, the spectrum's step is {step}"
    );
    drop(serve); // killed and reaped
}
