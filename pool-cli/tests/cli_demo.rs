//! `mmpool demo` runs end to end with no setup and every step checks itself.

use assert_cmd::Command;

#[test]
fn the_demo_runs_every_step_and_says_so() {
    let output = Command::cargo_bin("mmpool")
        .unwrap()
        .args(["demo", "--load-secs", "0.5", "--inflight", "50"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for step in 1..=10 {
        assert!(
            stdout.contains(&format!("[{step}/10]")),
            "step {step}:\n{stdout}"
        );
    }
    for shown in [
        "ValueError: motor stalled",
        "execution timeout",
        "Disconnected at once",
        "dropped, delivered to no one",
        "req/s",
        "Done: every step behaved as described.",
    ] {
        assert!(stdout.contains(shown), "{shown:?} missing:\n{stdout}");
    }
    let tasks_left = stdout
        .lines()
        .find(|l| l.contains("background tasks left"))
        .unwrap_or_default();
    assert!(tasks_left.trim_end().ends_with(" 0"), "{tasks_left}");
}
