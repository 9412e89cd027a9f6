#!/usr/bin/env bash
# Create the Python virtualenvs that the live-interop tests (package `pool-tests`) use to run REAL
# hololinked servers. Idempotent: a venv whose marker file records a complete install is skipped.
#
#   hololinked-0.4.2   pip install "hololinked[zmq]==0.4.2"   (pyzmq is an optional extra on 0.4.x)
#   hololinked-0.3.12  pip install "hololinked==0.3.12"       (pyzmq is a hard dependency on 0.3.x)
#
# Location: ${MMPOOL_VENV_DIR:-<repo>/target/venvs}. Python: ${MMPOOL_PYTHON:-python3} (needs >= 3.11).
# Usage: bash scripts/python-venvs.sh          # create what is missing
#        MMPOOL_VENV_FORCE=1 bash scripts/python-venvs.sh   # rebuild both
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
venv_dir="${MMPOOL_VENV_DIR:-$repo/target/venvs}"
python="${MMPOOL_PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "python-venvs: '$python' not found (set MMPOOL_PYTHON)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "python-venvs: hololinked needs Python >= 3.11, '$python' is $("$python" --version 2>&1)" >&2
  exit 1
fi

mkdir -p "$venv_dir"

# make_venv NAME EXPECTED_VERSION PIP_SPEC...
make_venv() {
  local name="$1" version="$2"
  shift 2
  local dir="$venv_dir/$name"
  local marker="$dir/.mmpool-complete"
  # The marker records the exact requirement list so that a changed pin rebuilds the venv.
  local want="$*"
  if [[ -z "${MMPOOL_VENV_FORCE:-}" && -f "$marker" && "$(cat "$marker")" == "$want" && -x "$dir/bin/python" ]] &&
    "$dir/bin/python" -c 'import hololinked' >/dev/null 2>&1; then
    echo "python-venvs: $name is complete ($dir), skipping"
    return 0
  fi
  echo "python-venvs: creating $name in $dir ($want)"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  echo "python-venvs: checking $name imports"
  "$dir/bin/python" - "$version" <<'PY'
import sys
from importlib.metadata import version
want = sys.argv[1]
got = version("hololinked")
assert got == want, f"installed hololinked {got}, expected {want}"
import zmq, msgspec  # noqa: F401  (the ZMQ server needs both)
from hololinked.server import run  # noqa: F401  (pool-testkit/python/thing_server.py uses these on both lines)
from hololinked.server.zmq import ZMQServer  # noqa: F401
from hololinked.core import Thing, action  # noqa: F401
print(f"python-venvs: hololinked {got}, pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()}), msgspec {msgspec.__version__}")
PY
  printf '%s' "$want" >"$marker"
  echo "python-venvs: $name done"
}

make_venv hololinked-0.4.2 0.4.2 "hololinked[zmq]==0.4.2"
make_venv hololinked-0.3.12 0.3.12 "hololinked==0.3.12"

echo "python-venvs: all venvs ready in $venv_dir"
