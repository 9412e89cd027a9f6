#!/usr/bin/env bash
# The anchors benchmark: every client side by side against ONE `mmpool serve --send-hwm 0`
# process, then the pool's scaling over 1, 16, 64 and 256 servers of ONE other
# `mmpool serve --servers 256` process; writes BENCHMARKS.md and bench/throughput.svg
# (bench/anchors_report.py).
#
#   scripts/bench-anchors.sh              # defaults: 3 rounds, 2 s per run (~5.5 min + builds)
#   QUICK=1 scripts/bench-anchors.sh      # 1 round, 1 s per run, fewer Python requests (~1 min)
#
# Clients, each at 1, 100, 1000 and 10000 requests in flight (INFLIGHTS) against the same server:
#   * the pool on tokio: `mmpool bench --server srv=... --json` (release build of pool-cli)
#   * the pool on tokio, async-std and smol, and a raw zeromq DEALER with prebuilt frames on each
#     runtime: pool_suite::bench in external mode (MMPOOL_BENCH_ENDPOINT), via
#     `cargo bench -p pool-tokio|pool-async-std|pool-smol --bench roundtrip`
#   * a raw libzmq DEALER (the `zmq` crate) in a blocking loop: the same bench, once (tokio's)
#   * hololinked 0.4.2's Python MessageMappedZMQClientPool: bench/python_pool_client.py in the
#     venv of scripts/python-venvs.sh, capped by request count and time
# Sequential latency (p50/p99) comes from the 1-in-flight runs (mmpool, Python) and from the
# suite's interleaved sequential runs (raw zeromq, pool, libzmq). Each round runs every client
# once, so slow drifts of this shared machine hit all clients; the report takes medians over
# rounds. Scaling: one `mmpool serve --servers <largest K> --send-hwm 0` process (a pool-testkit
# ServerFarm: every server its own ROUTER socket, id and tcp port, all served by one thread), then
# for each K `mmpool bench` over its first K servers (READY lines) at SCALE_INFLIGHT in flight in
# all, round-robin over the servers; client CPU is the bench process's, server CPU the serve
# process's (/proc/<pid>/stat, --server-pid).
#
# Knobs (environment):
#   ROUNDS        rounds of every client (default 3; QUICK: 1)
#   SECS          seconds per throughput run (default 2; QUICK: 1)
#   WARMUP        mmpool bench warm-up seconds (default 1; QUICK: 0.5)
#   INFLIGHTS     in-flight values (default "1 100 1000 10000")
#   SCALE         server counts for the scaling runs (default "1 16 64 256"; empty: skip)
#   SCALE_INFLIGHT  requests in flight in all in the scaling runs (default 1000)
#   PY_REQUESTS   measured requests per Python run at most (default 20000; QUICK: 3000)
#   PY_SECS       measured seconds per Python run at most (default 4; QUICK: 2)
#   LAT_N         sequential round trips per suite latency run (default 5000; QUICK: 2000)
#   ADAPTERS      suite benches to run (default "pool-tokio pool-async-std pool-smol")
#   SKIP_PYTHON=1 no Python anchor (e.g. without PyPI access for the venv)
#   OUT           raw results (default ${CARGO_TARGET_DIR:-target}/bench-anchors)
#   REPORT        the markdown written (default BENCHMARKS.md); SVG: bench/throughput.svg
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$(pwd)"
# The suite's profile mode would replace its external runs.
unset MMPOOL_BENCH_PROFILE

if [[ -n "${QUICK:-}" ]]; then
  : "${ROUNDS:=1}" "${SECS:=1}" "${WARMUP:=0.5}" "${PY_REQUESTS:=3000}" "${PY_SECS:=2}" "${LAT_N:=2000}"
fi
ROUNDS="${ROUNDS:-3}"
SECS="${SECS:-2}"
WARMUP="${WARMUP:-1}"
INFLIGHTS="${INFLIGHTS:-1 100 1000 10000}"
SCALE="${SCALE-1 16 64 256}"
SCALE_INFLIGHT="${SCALE_INFLIGHT:-1000}"
PY_REQUESTS="${PY_REQUESTS:-20000}"
PY_SECS="${PY_SECS:-4}"
LAT_N="${LAT_N:-5000}"
read -r -a adapters <<<"${ADAPTERS:-pool-tokio pool-async-std pool-smol}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="${OUT:-$target_dir/bench-anchors}"
report="${REPORT:-BENCHMARKS.md}"
mmpool="$target_dir/release/mmpool"
venv_python="${MMPOOL_VENV_DIR:-$repo/target/venvs}/hololinked-0.4.2/bin/python"
windows="$(echo "$INFLIGHTS" | tr ' ' ',')"
started=$(date +%s)

log() { echo "bench-anchors [$(($(date +%s) - started)) s]: $*" >&2; }

rm -rf "$out"
mkdir -p "$out"

log "building (release): pool-cli, then the round-trip benches"
cargo build --release -p pool-cli
for adapter in "${adapters[@]}"; do
  cargo bench -p "$adapter" --bench roundtrip --no-run
done

python_ok=""
if [[ -z "${SKIP_PYTHON:-}" ]]; then
  if bash scripts/python-venvs.sh >&2 && [[ -x "$venv_python" ]]; then
    python_ok=1
  else
    log "no hololinked venv: the Python anchor is skipped"
  fi
fi

# The machine and versions, for the report.
{
  echo "kernel=$(uname -sr)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rustc=$(rustc --version)"
  echo "zeromq_crate=$(grep -A1 '^name = "zeromq"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
  echo "zmq_crate=$(grep -A1 '^name = "zmq"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
  echo "tokio=$(grep -A1 '^name = "tokio"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
  echo "async_std=$(grep -A1 '^name = "async-std"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
  echo "smol=$(grep -A1 '^name = "smol"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
  if [[ -n "$python_ok" ]]; then
    echo "python=$("$venv_python" -c 'import sys; print(sys.version.split()[0])')"
    echo "hololinked=$("$venv_python" -c 'import importlib.metadata as m; print(m.version("hololinked"))')"
    echo "pyzmq=$("$venv_python" -c 'import zmq; print(zmq.__version__, "libzmq", zmq.zmq_version())')"
  fi
  echo "rounds=$ROUNDS"
  echo "secs=$SECS"
  echo "warmup=$WARMUP"
  echo "inflights=$INFLIGHTS"
  echo "scale=$SCALE"
  echo "scale_inflight=$SCALE_INFLIGHT"
  echo "py_requests=$PY_REQUESTS"
  echo "py_secs=$PY_SECS"
  echo "lat_n=$LAT_N"
} >"$out/machine.txt"

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

log "starting the server: mmpool serve --id srv --send-hwm 0"
"$mmpool" serve --bind tcp://127.0.0.1:0 --id srv --send-hwm 0 >"$out/serve.out" 2>"$out/serve.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^READY ' "$out/serve.out" 2>/dev/null && break
  sleep 0.1
done
endpoint="$(awk '/^READY / {print $2; exit}' "$out/serve.out")"
if [[ -z "$endpoint" ]]; then
  echo "bench-anchors: the server did not start: $(cat "$out/serve.err")" >&2
  exit 1
fi
log "server pid $server_pid at $endpoint"

for round in $(seq "$ROUNDS"); do
  dir="$out/round$round"
  mkdir -p "$dir"
  log "round $round/$ROUNDS: the pool on tokio (mmpool bench)"
  for n in $INFLIGHTS; do
    cap=$((n > 500 ? n : 500))
    "$mmpool" bench --server "srv=$endpoint" --server-pid "$server_pid" --inflight "$n" \
      --max-in-flight-per-server "$cap" --duration "$SECS" --warmup "$WARMUP" --json \
      >"$dir/mmpool-$n.json"
  done

  for adapter in "${adapters[@]}"; do
    clients="raw,pool"
    runtimes=""
    if [[ "$adapter" == pool-tokio ]]; then
      clients="raw,pool,libzmq"
      runtimes="mt"
    fi
    log "round $round/$ROUNDS: $adapter (raw zeromq DEALER, pool$([[ $clients == *libzmq* ]] && echo ", libzmq"))"
    MMPOOL_BENCH_ENDPOINT="$endpoint" MMPOOL_BENCH_SERVER_ID=srv MMPOOL_BENCH_SERVER_PID="$server_pid" \
      MMPOOL_BENCH_WINDOWS="$windows" MMPOOL_BENCH_CLIENTS="$clients" MMPOOL_BENCH_RUNTIMES="$runtimes" \
      MMPOOL_BENCH_REPS=1 MMPOOL_BENCH_SECS="$SECS" MMPOOL_BENCH_LAT_N="$LAT_N" \
      cargo bench -q -p "$adapter" --bench roundtrip >"$dir/$adapter.out" 2>"$dir/$adapter.err"
  done

  if [[ -n "$python_ok" ]]; then
    log "round $round/$ROUNDS: Python MessageMappedZMQClientPool"
    for n in $INFLIGHTS; do
      # At least two requests per coroutine; never more than PY_SECS of measuring.
      requests=$((PY_REQUESTS > 2 * n ? PY_REQUESTS : 2 * n))
      "$venv_python" bench/python_pool_client.py --endpoint "$endpoint" --server-id srv \
        --inflight "$n" --requests "$requests" --max-seconds "$PY_SECS" >"$dir/python-$n.json"
    done
  fi
done

cleanup
server_pid=""

if [[ -n "$SCALE" ]]; then
  mkdir -p "$out/scale"
  max_k="$(printf '%s\n' $SCALE | sort -n | tail -1)"
  # libzmq aborts a process that runs out of descriptors: a server takes about two, a client
  # connection one more on each side.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  log "starting the farm: mmpool serve --servers $max_k --send-hwm 0"
  "$mmpool" serve --bind tcp://127.0.0.1:0 --id farm --servers "$max_k" --send-hwm 0 \
    >"$out/scale/serve.out" 2>"$out/scale/serve.err" &
  server_pid=$!
  for _ in $(seq 100); do
    [[ "$(grep -c '^READY ' "$out/scale/serve.out" 2>/dev/null)" -ge "$max_k" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  # `READY <endpoint> <id>`, server by server: the --server ID=ENDPOINT of each.
  mapfile -t farm < <(awk '/^READY / {print $3 "=" $2}' "$out/scale/serve.out")
  if [[ "${#farm[@]}" -lt "$max_k" ]]; then
    echo "bench-anchors: the farm did not start: $(cat "$out/scale/serve.err")" >&2
    exit 1
  fi
  echo "farm_threads=$(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")" >>"$out/machine.txt"
  log "farm pid $server_pid: $max_k servers, $(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status") threads"
  for round in $(seq "$ROUNDS"); do
    for k in $SCALE; do
      log "scaling round $round/$ROUNDS: $k of the farm's servers, $SCALE_INFLIGHT in flight in all"
      servers=()
      for s in "${farm[@]:0:k}"; do
        servers+=(--server "$s")
      done
      "$mmpool" bench "${servers[@]}" --server-pid "$server_pid" --inflight "$SCALE_INFLIGHT" \
        --max-in-flight-per-server "$SCALE_INFLIGHT" --duration "$SECS" --warmup "$WARMUP" \
        --connect-timeout 30 --json >"$out/scale/round$round-k$k-n$SCALE_INFLIGHT.json"
    done
  done
  cleanup
  server_pid=""
fi

log "measured in $(($(date +%s) - started)) s; writing $report and bench/throughput.svg"
python3 bench/anchors_report.py "$out" "$report" bench/throughput.svg
log "done in $(($(date +%s) - started)) s"
