#!/usr/bin/env bash
# The project's test command. It tests every package in its own cargo invocation, because the
# zeromq crate's runtime features (tokio / async-std / dispatcher) are mutually exclusive and
# cargo unifies features across one invocation: a whole-workspace test run can never pass here.
#
# Usage: scripts/test.sh            # everything
#        PROPTEST_CASES=5000 scripts/test.sh   # longer model-based runs
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages in test order; each entry is "package [extra cargo args]". Each runtime adapter runs
# the same conformance suite (pool-suite) and a live hololinked smoke test in its own tests.
# mmpool-zeromq is the patched zeromq in vendor/zeromq: its unit tests (with the receive-limit
# and fatal-error tests of the patch) run on its default tokio runtime.
PACKAGES=(
  "mmpool-zeromq --lib"
  "pool-core"
  "pool-measure"
  "pool-testkit"
  "pool-driver"
  "pool-tokio"
  "pool-async-std"
  "pool-smol"
  "pool-cli"
  "pool-cli --no-default-features"
  "pool-tests"
  "pool-examples"
)

# The live-interop tests (pool-tests) run real hololinked servers from two Python venvs; create
# them if they are missing (idempotent, fast when present). MMPOOL_SKIP_PYTHON_INTEROP=1 skips.
if [[ "${MMPOOL_SKIP_PYTHON_INTEROP:-0}" == "0" ]]; then
  bash scripts/python-venvs.sh
fi

for entry in "${PACKAGES[@]}"; do
  read -r package extra <<<"$entry"
  echo "== cargo test -p $package $extra"
  # shellcheck disable=SC2086
  cargo test -p "$package" $extra
done

# The examples outside the adapters, run as a user runs them (each exits non-zero on a wrong
# result): pool-core in a blocking libzmq loop, and the pool on a futures ThreadPool.
for example in blocking custom_executor; do
  echo "== cargo run -p pool-examples --example $example"
  cargo run -q -p pool-examples --example "$example"
done

# The benchmarks stay runnable: pool-core's criterion benches once each in test mode, and each
# adapter's round-trip bench (a real server child, every reply and counter checked) in a short
# run. Their figures mean nothing here; a bench that panics or fails a check fails the script.
echo "== cargo test -p pool-core --benches --features bench-internals (each benchmark once)"
cargo test -q -p pool-core --benches --features bench-internals
for package in pool-tokio pool-async-std pool-smol; do
  echo "== cargo bench -p $package --bench roundtrip (short smoke run)"
  MMPOOL_BENCH_SECS=0.2 MMPOOL_BENCH_REPS=1 MMPOOL_BENCH_LAT_N=100 MMPOOL_BENCH_LAT_WARMUP=20 \
    cargo bench -q -p "$package" --bench roundtrip >/dev/null
done

# pool-core's own unit tests without std or alloc (fixed-capacity memory only).
echo "== cargo test -p pool-core --no-default-features --lib"
cargo test -p pool-core --no-default-features --lib
