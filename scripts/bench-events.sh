#!/usr/bin/env bash
# The events benchmark: events per second and client CPU per event of three consumers of ONE
# external publisher, in alternating rounds, with same-run ratios.
#
#   scripts/bench-events.sh                                   # 3 rounds of 3 s, full rate
#   BENCH_EVENTS_SECS=1 BENCH_EVENTS_ROUNDS=1 scripts/bench-events.sh   # a quick look
#
# The publisher: one `mmpool serve --bind tcp://127.0.0.1:0 --id bench --stream bench/tick[@RATE]`
# process (a pool-testkit libzmq PUB socket streaming {"n":k}); its endpoint is read from the
# `PUBLISHER bench <endpoint>` line. Each round runs, one after another, against it:
#   * raw:    `mmpool bench-events --server ... --publisher ... --clients raw --json`, a bare
#             zeromq SUB socket on tokio (the baseline);
#   * pool:   the same with `--clients pool`, the pool's `subscribe_event`;
#   * Python: bench/python_event_consumer.py in the hololinked 0.4.2 venv, hololinked's own sync
#             `EventConsumer` deserializing every payload.
# Each counts for BENCH_EVENTS_SECS seconds from its first event; client CPU is the consumer
# process's over that window (the publisher runs in its own process). Events the PUB socket
# dropped for a consumer that fell behind its high-water mark are not received, so at full rate
# the rate is what each consumer keeps up with ("lost" counts the gaps in n for raw and pool).
#
# Knobs (environment):
#   BENCH_EVENTS_SECS    seconds counted per consumer and round (default 3)
#   BENCH_EVENTS_ROUNDS  rounds (default 3)
#   BENCH_EVENTS_RATE    events per second of the stream (default empty: as fast as possible)
#   MMPOOL_VENV_DIR      where the hololinked venvs are (default target/venvs, made by
#                        scripts/python-venvs.sh); without the 0.4.2 venv the Python consumer is
#                        skipped
#   OUT                  raw results (default ${CARGO_TARGET_DIR:-target}/bench-events)
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$(pwd)"
secs="${BENCH_EVENTS_SECS:-3}"
rounds="${BENCH_EVENTS_ROUNDS:-3}"
rate="${BENCH_EVENTS_RATE:-}"
venv_python="${MMPOOL_VENV_DIR:-$repo/target/venvs}/hololinked-0.4.2/bin/python"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="${OUT:-$target_dir/bench-events}"
mmpool="$target_dir/release/mmpool"
started=$(date +%s)

log() { echo "bench-events [$(($(date +%s) - started)) s]: $*" >&2; }

rm -rf "$out"
mkdir -p "$out"

log "building (release): pool-cli"
cargo build --release -p pool-cli

python_ok=""
if [[ -x "$venv_python" ]]; then
  python_ok=1
else
  log "no hololinked 0.4.2 venv at $venv_python: the Python consumer is skipped"
fi

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stream="bench/tick${rate:+@$rate}"
log "starting the publisher: mmpool serve --id bench --stream $stream"
"$mmpool" serve --bind tcp://127.0.0.1:0 --id bench --stream "$stream" \
  >"$out/serve.out" 2>"$out/serve.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^PUBLISHER ' "$out/serve.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
endpoint="$(awk '/^READY / {print $2; exit}' "$out/serve.out")"
publisher="$(awk '/^PUBLISHER bench / {print $3; exit}' "$out/serve.out")"
if [[ -z "$endpoint" || -z "$publisher" ]]; then
  echo "bench-events: the publisher did not start: $(cat "$out/serve.err")" >&2
  exit 1
fi
log "publisher pid $server_pid at $publisher (server $endpoint)"

for round in $(seq "$rounds"); do
  for client in raw pool; do
    log "round $round/$rounds: $client"
    "$mmpool" bench-events --server "bench=$endpoint" --publisher "$publisher" \
      --clients "$client" --rounds 1 --duration "$secs" --json >"$out/round$round-$client.jsonl"
  done
  if [[ -n "$python_ok" ]]; then
    log "round $round/$rounds: Python"
    # Its first event may take a while: hololinked's import and SUB connect come first.
    "$venv_python" bench/python_event_consumer.py --endpoint "$publisher" --event bench/tick \
      --seconds "$secs" --wait 30 >"$out/round$round-python.json" 2>"$out/round$round-python.err"
  fi
done
cleanup

python3 - "$out" "$rounds" "$secs" "$stream" <<'EOF'
import json
import os
import statistics
import sys

out, rounds, secs, stream = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def mmpool_round(path):
    """(events/s, client CPU µs/event, lost) of the round line of `mmpool bench-events --json`."""
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if d.get("kind") == "round":
                return d["events_per_s"], d["cpu_us_per_event"], d["lost"]
    raise SystemExit(f"bench-events: no round line in {path}")


def python_round(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        d = json.loads(f.read().strip().splitlines()[-1])
    events = d["events"]
    return d["rate"], (d["cpu_seconds"] * 1e6 / events if events else None), None


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "–"


def num(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


rows = []
for r in range(1, rounds + 1):
    raw = mmpool_round(os.path.join(out, f"round{r}-raw.jsonl"))
    pool = mmpool_round(os.path.join(out, f"round{r}-pool.jsonl"))
    py = python_round(os.path.join(out, f"round{r}-python.json")) or (None, None, None)
    rows.append((str(r), raw, pool, py))
if rounds > 1:
    def med(i, j):
        values = [row[i][j] for row in rows if row[i][j] is not None]
        return statistics.median(values) if values else None
    rows.append(("median", *[tuple(med(i, j) for j in range(3)) for i in (1, 2, 3)]))

header = ["round", "raw ev/s", "pool ev/s", "Python ev/s", "raw CPU µs/ev", "pool CPU µs/ev",
          "Python CPU µs/ev", "raw lost", "pool lost", "pool/raw ev/s", "pool/raw CPU",
          "pool/Python ev/s", "pool/Python CPU"]
table = [header]
for name, raw, pool, py in rows:
    table.append([name, num(raw[0]), num(pool[0]), num(py[0]), num(raw[1], 2), num(pool[1], 2),
                  num(py[1], 2), num(raw[2]), num(pool[2]), ratio(pool[0], raw[0]),
                  ratio(pool[1], raw[1]), ratio(pool[0], py[0]), ratio(pool[1], py[1])])
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
print(f"events {stream} from one mmpool serve, {secs} s per consumer and round "
      "(ratios: same round; the median row's are of the medians)")
for k, row in enumerate(table):
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    if k == 0:
        print("  ".join("-" * w for w in widths))
EOF
log "raw results in $out"
