//! `mmpool demo` runs end to end with no setup and every step checks itself.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

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
    for step in 1..=11 {
        assert!(
            stdout.contains(&format!("[{step}/11]")),
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
    // The events step: three stream events with n counting up, a change event carrying the
    // written value, and no subscription left once they are dropped.
    let ns: Vec<u64> = (1..=3)
        .map(|seq| {
            let line = stdout
                .lines()
                .find(|l| l.contains(&format!("spectrometer/measurement #{seq} ")))
                .unwrap_or_else(|| panic!("event #{seq} missing:\n{stdout}"));
            let payload: serde_json::Value =
                serde_json::from_str(line.split_whitespace().last().unwrap()).unwrap();
            payload["n"].as_u64().unwrap_or_else(|| panic!("{line}"))
        })
        .collect();
    assert!(ns.windows(2).all(|w| w[0] < w[1]), "{ns:?}");
    let change = stdout
        .lines()
        .find(|l| l.contains("its change event"))
        .unwrap_or_default();
    assert!(change.contains("\"hello from the pool ("), "{change}");
    let left = stdout
        .lines()
        .find(|l| l.contains("subscriptions left"))
        .unwrap_or_default();
    assert!(
        left.trim_end().ends_with(" 0 (each unsubscribed on drop)"),
        "{left}"
    );
    let tasks_left = stdout
        .lines()
        .find(|l| l.contains("background tasks left"))
        .unwrap_or_default();
    assert!(tasks_left.trim_end().ends_with(" 0"), "{tasks_left}");
}
