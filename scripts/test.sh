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
PACKAGES=(
  "pool-core"
  "pool-testkit"
  "pool-driver"
  "pool-tokio"
  "pool-async-std"
  "pool-smol"
  "pool-tests"
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

# pool-core's own unit tests without std or alloc (fixed-capacity memory only).
echo "== cargo test -p pool-core --no-default-features --lib"
cargo test -p pool-core --no-default-features --lib
