#!/usr/bin/env bash
# The round-trip benchmark (pool vs a raw zeromq DEALER on the same runtime, see
# suite/src/bench/mod.rs) on every runtime adapter, one after another, with the same knobs,
# merged into one markdown table. zeromq's runtime features are mutually exclusive, so each
# adapter is its own `cargo bench -p <adapter> --bench roundtrip` (never --workspace).
#
#   scripts/bench-runtimes.sh                 # defaults: 2 s x 3 reps, 1000 in flight, tcp+ipc
#   SECS=1 REPS=1 scripts/bench-runtimes.sh   # a quick look
#
# Knobs (environment; each short name sets the bench's MMPOOL_BENCH_<NAME>, which may be set
# directly instead; unset means the bench's default):
#   SECS           throughput run length in seconds (default 2)
#   REPS           repetitions, medians reported (default 3)
#   WINDOW         requests in flight during the throughput run (default 1000)
#   LAT_N          sequential round trips for the latency run (default 5000)
#   LAT_WARMUP     untimed round trips before it (default 500)
#   TRANSPORTS     tcp, ipc or tcp,ipc (default)
#   RUNTIMES       fragments of runtime names, e.g. `smol`, `ct`, `tokio,async-std` (default all;
#                  an adapter with no selected runtime runs nothing)
#   SERVER         testkit (default) or fast (a bare libzmq echo: the client's cost shows)
#   SERVER_TIMERS  1: send hololinked's default 5 s invokation_timeout (default: null)
#   ADAPTERS       the packages to run (default "pool-tokio pool-async-std pool-smol")
#   OUT            where each adapter's output and the merged JSON lines are kept
#                  (default ${CARGO_TARGET_DIR:-target}/bench-runtimes)
# MMPOOL_BENCH_PROFILE is cleared: profile one adapter's bench directly instead.
set -euo pipefail

cd "$(dirname "$0")/.."

for knob in SECS REPS WINDOW LAT_N LAT_WARMUP TRANSPORTS RUNTIMES SERVER SERVER_TIMERS; do
  if [[ -n "${!knob:-}" ]]; then
    export "MMPOOL_BENCH_${knob}=${!knob}"
  fi
done
unset MMPOOL_BENCH_PROFILE

read -r -a adapters <<<"${ADAPTERS:-pool-tokio pool-async-std pool-smol}"
out="${OUT:-${CARGO_TARGET_DIR:-target}/bench-runtimes}"
mkdir -p "$out"
jsonl="$out/roundtrip.jsonl"
: >"$jsonl"

for adapter in "${adapters[@]}"; do
  echo "== $adapter" >&2
  # The bench's table and JSON lines go to stdout (kept and shown), its progress to stderr.
  cargo bench -p "$adapter" --bench roundtrip | tee "$out/$adapter.out"
  grep '^JSON ' "$out/$adapter.out" | sed 's/^JSON //' >>"$jsonl" || true
done

echo
python3 - "$jsonl" <<'PY'
import json
import sys

rows = []
config = None
with open(sys.argv[1]) as f:
    for line in f:
        record = json.loads(line)
        if record.get("bench") == "roundtrip" and record.get("metric") == "compare":
            rows.append(record)
            config = config or record
if not rows:
    sys.exit("bench-runtimes: no results (did RUNTIMES select nothing?)")

print(
    f"roundtrip, pool vs raw zeromq DEALER on the same runtime: {config['server']} server, "
    f"{config['in_flight']} in flight for {config['secs']:g} s, medians of {config['reps']} reps"
)
print()
print("| runtime | transport | raw msg/s | pool msg/s | pool/raw | CPU µs/req raw / pool "
      "| p50 µs raw / pool (Δ) |")
print("|---|---|---:|---:|---:|---:|---:|")
for r in rows:
    print(
        f"| {r['runtime']} | {r['transport']} | {r['raw_msgs_per_s']:,.0f} "
        f"| {r['pool_msgs_per_s']:,.0f} | {r['throughput_ratio']:.3f} "
        f"| {r['cpu_us_per_req_raw']:.2f} / {r['cpu_us_per_req_pool']:.2f} "
        f"| {r['raw_p50_us']:.1f} / {r['pool_p50_us']:.1f} ({r['p50_delta_us']:+.1f}) |"
    )
PY
echo
echo "JSON lines of every adapter: $jsonl" >&2
