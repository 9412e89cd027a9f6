#!/usr/bin/env python3
"""Turns the raw results of scripts/bench-anchors.sh into BENCHMARKS.md and bench/throughput.svg.

    python3 bench/anchors_report.py OUT_DIR BENCHMARKS.md bench/throughput.svg

OUT_DIR holds machine.txt, round<N>/ (mmpool-<n>.json, pool-<adapter>.out with the suite's `JSON `
lines, python-<n>.json) and scale/ (round<R>-k<K>-n<N>.json: `mmpool bench --json` over the first K
servers of one `mmpool serve --servers` process). Every figure in the report is the
median over the rounds. bench/notes.md, when present, is appended verbatim (the hand-written
analysis: where the time goes). A `## ` section of the existing REPORT.md that this script does
not write (not one of GENERATED, not in notes.md), such as `## Events` (scripts/bench-events.sh),
is kept, in its old order, after the generated text. Standard library only.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import statistics
import sys
from collections import defaultdict

# Client labels, in table order.
MMPOOL = "pool · tokio (mmpool bench)"
POOL = {"tokio multi-thread": "pool · tokio (suite)", "async-std": "pool · async-std", "smol": "pool · smol"}
RAW = {
    "tokio multi-thread": "raw zeromq DEALER · tokio",
    "async-std": "raw zeromq DEALER · async-std",
    "smol": "raw zeromq DEALER · smol",
}
LIBZMQ = "raw libzmq DEALER · blocking"
PYTHON = "Python MessageMappedZMQClientPool"
# Shorter names for the chart's legend.
SHORT = {PYTHON: "Python pool (hololinked 0.4.2)"}
ORDER = [MMPOOL, *POOL.values(), *RAW.values(), LIBZMQ, PYTHON]
# The raw zeromq DEALER on each pool's runtime (for the pool/raw ratios).
RAW_OF = {
    MMPOOL: RAW["tokio multi-thread"],
    POOL["tokio multi-thread"]: RAW["tokio multi-thread"],
    POOL["async-std"]: RAW["async-std"],
    POOL["smol"]: RAW["smol"],
}

GOAL_RATIO_RAW = 0.85
GOAL_RATIO_PYTHON = 100.0
GOAL_CPU_US = 3.0
GOAL_SCALING = 1.3
# The driver's cost against the raw zeromq DEALER on the same runtime (same run, same server).
GOAL_CPU_RATIO = 1.5
GOAL_THROUGHPUT_RATIO = 0.95
GOAL_RSS_OVER_RAW_MIB = 10.0


# The headings report() writes (the notes' come on top); a section of the old report under any
# other heading is not ours and is kept.
GENERATED = (
    "## Machine and versions",
    "## Method",
    "## Results",
    "## Ratios",
    "## Scaling over servers",
    "## Goals",
)


def kept_sections(old, new):
    """The `## ` sections of the old report text that the new one neither has nor could have written
    (GENERATED), each with its text up to the next `## ` heading, in their old order."""

    def heading_of(section):
        return section.splitlines()[0].strip()

    ours = {heading_of(s) for s in re.split(r"(?m)^(?=## )", new) if s.startswith("## ")}
    kept = []
    for section in re.split(r"(?m)^(?=## )", old):
        if not section.startswith("## "):
            continue  # the title and preamble before the first section: always generated
        heading = heading_of(section)
        if heading in ours or heading.startswith(GENERATED):
            continue
        kept.append(section.strip() + "\n")
    return kept


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Results:
    """Per (client, in flight): lists over rounds of each metric; per client: sequential latency."""

    def __init__(self):
        self.tp = defaultdict(lambda: defaultdict(list))  # (client, n) -> metric -> [values]
        self.lat = defaultdict(lambda: defaultdict(list))  # client -> p50/p99 -> [values]
        self.errors = defaultdict(int)  # client -> failed requests (all runs)
        self.scale = defaultdict(lambda: defaultdict(list))  # (k, n) -> metric -> [values]

    def add_tp(self, client, n, rps, cpu, rss_kib, server_cpu=None):
        m = self.tp[(client, n)]
        m["rps"].append(rps)
        m["cpu"].append(cpu)
        m["rss"].append(rss_kib / 1024 if rss_kib is not None else None)
        m["srv"].append(server_cpu)

    def get(self, client, n, metric):
        return med(self.tp.get((client, n), {}).get(metric, []))

    def inflights(self):
        return sorted({n for (_, n) in self.tp})

    def clients(self):
        present = {c for (c, _) in self.tp} | set(self.lat)
        return [c for c in ORDER if c in present]


def load(out):
    r = Results()
    for path in sorted(glob.glob(os.path.join(out, "round*", "mmpool-*.json"))):
        with open(path) as f:
            d = json.load(f)
        n = d["inflight"]
        r.add_tp(MMPOOL, n, d["req_per_s"], d["client_cpu_us_per_req"], d["peak_rss_kib"], d["server_cpu_us_per_req"])
        r.errors[MMPOOL] += d["errors"]
        if n == 1:
            r.lat[MMPOOL]["p50"].append(d["latency_us"]["p50"])
            r.lat[MMPOOL]["p99"].append(d["latency_us"]["p99"])
    for path in sorted(glob.glob(os.path.join(out, "round*", "pool-*.out"))):
        with open(path) as f:
            for line in f:
                if not line.startswith("JSON "):
                    continue
                d = json.loads(line[5:])
                client = label_of(d["runtime"], d["client"])
                if client is None:
                    continue
                if d["metric"] == "external":
                    r.add_tp(
                        client,
                        d["in_flight"],
                        d["msgs_per_s"],
                        d["client_cpu_us_per_req"],
                        d.get("peak_rss_kib"),
                        d.get("server_cpu_us_per_req"),
                    )
                elif d["metric"] == "external_latency":
                    r.lat[client]["p50"].append(d["p50_us"])
                    r.lat[client]["p99"].append(d["p99_us"])
    for path in sorted(glob.glob(os.path.join(out, "round*", "python-*.json"))):
        with open(path) as f:
            d = json.load(f)
        n = d["inflight"]
        r.add_tp(PYTHON, n, d["req_per_s"], d["client_cpu_us_per_req"], d["peak_rss_kib"])
        r.errors[PYTHON] += d["errors"]
        if n == 1:
            r.lat[PYTHON]["p50"].append(d["latency_us"]["p50"])
            r.lat[PYTHON]["p99"].append(d["latency_us"]["p99"])
    for path in sorted(glob.glob(os.path.join(out, "scale", "*.json"))):
        with open(path) as f:
            d = json.load(f)
        m = r.scale[(d["servers"], d["inflight"])]
        m["rps"].append(d["req_per_s"])
        m["cpu"].append(d["client_cpu_us_per_req"])
        m["srv"].append(d["server_cpu_us_per_req"])
        m["p50"].append(d["latency_us"]["p50"])
        m["rss"].append(d["peak_rss_kib"] / 1024)
        m["threads"].append(d["threads"])
        m["errors"].append(d["errors"])
    return r


def max_scale(r):
    """The most servers of any scaling run (the farm's size), or 256 when there were none."""
    return max((k for (k, _) in r.scale), default=256)


def label_of(runtime, client):
    if client == "libzmq":
        return LIBZMQ
    if client == "pool":
        return POOL.get(runtime)
    if client == "raw":
        return RAW.get(runtime)
    return None


def machine(out):
    info = {}
    path = os.path.join(out, "machine.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    info[k] = v
    return info


# ----- formatting -----------------------------------------------------------------------------


def fmt_int(x):
    return "–" if x is None else f"{x:,.0f}"


def fmt(x, digits=1):
    return "–" if x is None else f"{x:,.{digits}f}"


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.{digits}f}×"


def table(header, rows, align=None):
    align = align or ["l"] + ["r"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def goal(ok):
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**missed**"


# ----- the report -----------------------------------------------------------------------------


def report(r, info, notes):
    ns = r.inflights()
    n_cpu = 1000 if 1000 in ns else ns[-1]
    n_big = ns[-1]
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "Generated by `scripts/bench-anchors.sh` (raw results under "
        "`${CARGO_TARGET_DIR:-target}/bench-anchors`); do not edit by hand: rerun the script. "
        "Every figure is the median over "
        f"{info.get('rounds', '?')} rounds; each round runs every client once, one after another, "
        "against the same server process."
    )
    w("")
    w("## Machine and versions")
    w("")
    w(
        table(
            ["what", "value"],
            [
                ["machine", f"{info.get('cores', '?')} cores ({info.get('cpu', '?')}), {info.get('memory', '?')}, "
                 f"{info.get('kernel', '?')}; shared with other VMs (load average at start {info.get('loadavg', '?')})"],
                ["Rust", info.get("rustc", "?")],
                ["crates", f"zeromq {info.get('zeromq_crate', '?')}, zmq (libzmq binding) {info.get('zmq_crate', '?')}, "
                 f"tokio {info.get('tokio', '?')}, async-std {info.get('async_std', '?')}, smol {info.get('smol', '?')}"],
                ["Python", f"{info.get('python', '–')}, hololinked {info.get('hololinked', '–')}, pyzmq {info.get('pyzmq', '–')}"],
                ["runs", f"{info.get('secs', '?')} s per throughput run ({info.get('warmup', '?')} s warm-up for mmpool bench); "
                 f"sequential latency over {info.get('lat_n', '?')} round trips (suite) or the 1-in-flight run; "
                 f"Python capped at {info.get('py_requests', '?')} requests or {info.get('py_secs', '?')} s per run"],
            ],
            ["l", "l"],
        )
    )
    w("")
    w("## Method")
    w("")
    w(
        "* **Server**: one `mmpool serve --bind tcp://127.0.0.1:0 --id srv --send-hwm 0` process (a pool-testkit "
        "libzmq ROUTER speaking hololinked's protocol, Thing `srv`, no send high-water mark so that 10000 replies "
        "may be outstanding), started once and shared by every client below, over TCP on loopback. Its CPU time "
        "is read from `/proc/<pid>/stat`."
    )
    w(
        "* **Request**: `readproperty number` of Thing `srv` (the reply, `1.5`, is checked by every client), "
        "with the server-side invokation timeout `null` in every client (Python: "
        "`SchedulerExecutionContext(invokation_timeout=None, ...)`), the execution timeout 5 s."
    )
    w(
        "* **pool · tokio (mmpool bench)**: `mmpool bench --server srv=<endpoint> --inflight N "
        "--max-in-flight-per-server max(N,500) --json`: a `FuturesUnordered` of the pool's requests refilled as each "
        "completes, in one task on tokio's multi-thread runtime (2 workers); every reply checked. Client CPU is "
        "the process's, from `/proc/self/task/*/schedstat`; peak RSS is `VmHWM` of the process at the end."
    )
    w(
        "* **pool · tokio/async-std/smol (suite)**, **raw zeromq DEALER**, **raw libzmq DEALER**: "
        "`pool_suite::bench` in external mode (`MMPOOL_BENCH_ENDPOINT`, `MMPOOL_BENCH_WINDOWS`), run by "
        "`cargo bench -p pool-tokio|pool-async-std|pool-smol --bench roundtrip`. The raw zeromq DEALER sends "
        "prebuilt frames (one send per receive, same runtime as the pool beside it); the libzmq DEALER (the `zmq` "
        "crate, libzmq 4.3) does the same in a plain blocking loop without any async runtime. Throughput: N in "
        "flight for the run after a warm-up of two windows. Sequential latency: raw, pool and libzmq alternate in "
        "10 chunks each, after 500 warm-up round trips. CPU from `/proc/self/task/*/schedstat` (pool-measure, as for mmpool bench); peak RSS is `VmHWM` after "
        "resetting it (`/proc/self/clear_refs`) before each run, so it is that run's peak of the bench process "
        "(which also holds an idle pool)."
    )
    w(
        "* **Python MessageMappedZMQClientPool** (hololinked 0.4.2): `bench/python_pool_client.py`, set up as "
        "hololinked's HTTP server does (one `AsyncZMQClient`, handshaken, registered under the Thing, the pool's "
        "`poll_responses` task); N coroutines each `await pool.async_execute(...)` in a loop. CPU from "
        "`getrusage`, peak RSS `ru_maxrss` (the interpreter with hololinked imported is most of it)."
    )
    w(
        "* **Latency** at N > 1 in flight (mmpool bench, Python) includes the queueing behind the N−1 others "
        "(about N / throughput); the *sequential* columns are the 1-in-flight round trip."
    )
    farm_threads = info.get("farm_threads")
    w(
        "* **Scaling**: one `mmpool serve --bind tcp://127.0.0.1:0 --id farm --servers "
        f"{max_scale(r)} --send-hwm 0` process (a pool-testkit `ServerFarm`: every server its own ROUTER "
        "socket, server id `farm-<i>` and tcp port, all in one libzmq context with one I/O thread and served by "
        "one thread that waits in epoll on the sockets and runs every Thing"
        + (f"; {farm_threads} threads in all" if farm_threads else "")
        + "), started once after the runs above. For each K, `mmpool bench` over its first K servers (one "
        "`--server farm-<i>=<endpoint>` each, from its `READY <endpoint> <id>` lines) with "
        f"{info.get('scale_inflight', '1000')} requests in flight in all, spread round-robin over the servers, "
        "`--max-in-flight-per-server` as many. Client CPU, peak RSS and threads are the bench process's (the "
        "pool's alone: no server runs in it); server CPU is the serve process's, from `/proc/<pid>/stat` "
        "(`--server-pid`). Client and server share the 2 cores."
    )
    w("")

    # --- main table
    w("## Results: every client against the same server")
    w("")
    header = ["client", "sequential p50 µs", "sequential p99 µs"] + [f"req/s @{n}" for n in ns] + [
        f"CPU µs/req @{n_cpu}",
        f"peak RSS MiB @{n_cpu} / @{n_big}",
        "errors",
    ]
    rows = []
    for c in r.clients():
        rows.append(
            [c, fmt(med(r.lat[c]["p50"])), fmt(med(r.lat[c]["p99"]))]
            + [fmt_int(r.get(c, n, "rps")) for n in ns]
            + [
                fmt(r.get(c, n_cpu, "cpu"), 2),
                f"{fmt(r.get(c, n_cpu, 'rss'))} / {fmt(r.get(c, n_big, 'rss'))}",
                r.errors.get(c, 0) if c in (MMPOOL, PYTHON) else "0 (checked)",
            ]
        )
    w(table(header, rows))
    w("")
    w("Client CPU µs per request at every in-flight value (server CPU µs per request in brackets, from the "
      "server process):")
    w("")
    header = ["client"] + [f"@{n}" for n in ns]
    rows = []
    for c in r.clients():
        cells = []
        for n in ns:
            cpu, srv = r.get(c, n, "cpu"), r.get(c, n, "srv")
            cells.append("–" if cpu is None else f"{cpu:.2f}" + (f" ({srv:.1f})" if srv is not None else ""))
        rows.append([c] + cells)
    w(table(header, rows))
    w("")

    # --- ratios
    w("## Ratios")
    w("")
    w("Throughput of each pool over the raw zeromq DEALER on its own runtime, and of the tokio pool over the "
      "raw libzmq DEALER and over the Python pool (same run, same server):")
    w("")
    header = ["ratio (first ÷ second)"] + [f"req/s @{n}" for n in ns] + [f"client CPU/req @{n_cpu}"]
    rows = []
    for pool, raw in RAW_OF.items():
        if (pool, ns[0]) in r.tp or any((pool, n) in r.tp for n in ns):
            rows.append(
                [f"{pool} / {raw}"]
                + [ratio(r.get(pool, n, "rps"), r.get(raw, n, "rps")) for n in ns]
                + [ratio(r.get(pool, n_cpu, "cpu"), r.get(raw, n_cpu, "cpu"))]
            )
    rows.append(
        [f"{MMPOOL} / {LIBZMQ}"]
        + [ratio(r.get(MMPOOL, n, "rps"), r.get(LIBZMQ, n, "rps")) for n in ns]
        + [ratio(r.get(MMPOOL, n_cpu, "cpu"), r.get(LIBZMQ, n_cpu, "cpu"))]
    )
    rows.append(
        [f"{MMPOOL} / {PYTHON}"]
        + [ratio(r.get(MMPOOL, n, "rps"), r.get(PYTHON, n, "rps"), 1) for n in ns]
        + [ratio(r.get(MMPOOL, n_cpu, "cpu"), r.get(PYTHON, n_cpu, "cpu"), 3)
           + f" ({ratio(r.get(PYTHON, n_cpu, 'cpu'), r.get(MMPOOL, n_cpu, 'cpu'), 1)} less)"]
    )
    w(table(header, rows))
    w("")
    w("![throughput vs requests in flight](bench/throughput.svg)")
    w("")

    # --- scaling
    scale_rows = sorted(r.scale.items(), key=lambda x: (x[0][1], x[0][0]))  # by in flight, then servers
    if scale_rows:
        w("## Scaling over servers (pool · tokio, servers in one other process)")
        w("")
        # The run with the fewest servers at each in-flight value (rows are sorted by servers within it).
        base = {}
        for (k, n), m in scale_rows:
            base.setdefault(n, med(m["cpu"]))
        fewest = min(k for (k, _), _ in scale_rows)
        rows = []
        for (k, n), m in scale_rows:
            cpu = med(m["cpu"])
            rows.append(
                [k, n, fmt_int(med(m["rps"])), fmt(cpu, 2), ratio(cpu, base.get(n)), fmt(med(m["srv"]), 1),
                 fmt(med(m["p50"]), 0), fmt(med(m["rss"])), fmt_int(med(m["threads"])), int(sum(m["errors"]))]
            )
        w(
            table(
                ["servers", "in flight", "req/s", "client CPU µs/req", f"vs {fewest} server{'s' * (fewest != 1)}",
                 "server CPU µs/req", "p50 µs",
                 "client peak RSS MiB", "client threads", "errors"],
                rows,
                ["r"] * 10,
            )
        )
        w("")
        w("Client CPU, peak RSS and threads are the bench process's alone; server CPU is the one serve process "
          "that holds every server (idle ones included), per request.")
        w("")

    # --- goals
    w("## Goals")
    w("")
    rows = []
    p_raw = (r.get(MMPOOL, 1000, "rps"), r.get(RAW["tokio multi-thread"], 1000, "rps"))
    ok = None if None in p_raw else p_raw[0] / p_raw[1] >= GOAL_RATIO_RAW
    others = []
    for pool in (POOL["async-std"], POOL["smol"]):
        a, b = r.get(pool, 1000, "rps"), r.get(RAW_OF[pool], 1000, "rps")
        if a is not None and b is not None:
            others.append(f"{pool.split(' · ')[1]} {a / b:.2f}×")
    rows.append([f"pool ≥ {GOAL_RATIO_RAW}× raw zeromq DEALER at 1000 in flight",
                 ratio(*p_raw) + (f" (tokio; {', '.join(others)})" if others else ""), goal(ok)])
    best = [(r.get(MMPOOL, n, "rps"), r.get(PYTHON, n, "rps")) for n in ns]
    best = [(a / b, n) for (a, b), n in zip(best, ns) if a and b]
    if best:
        lo, hi = min(best), max(best)
        ok = lo[0] >= GOAL_RATIO_PYTHON
        cpu_ratio = ratio(r.get(PYTHON, n_cpu, "cpu"), r.get(MMPOOL, n_cpu, "cpu"), 1)
        rows.append([f"pool ≥ {GOAL_RATIO_PYTHON:g}× the Python pool",
                     f"throughput {lo[0]:.1f}× (@{lo[1]}) to {hi[0]:.1f}× (@{hi[1]}); CPU per request {cpu_ratio} "
                     f"less (@{n_cpu})", goal(ok)])
    else:
        rows.append([f"pool ≥ {GOAL_RATIO_PYTHON:g}× the Python pool", "–", goal(None)])
    cpu = r.get(MMPOOL, 1000, "cpu")
    rows.append([f"client CPU ≤ {GOAL_CPU_US:g} µs/request (tokio pool, 1000 in flight)", fmt(cpu, 2) + " µs",
                 goal(None if cpu is None else cpu <= GOAL_CPU_US)])
    # Against the raw zeromq DEALER on each runtime: client CPU per request, throughput, memory.
    def per_runtime(n, key, test, show):
        cells, oks = [], []
        for pool in (MMPOOL, *POOL.values()):
            a, b = r.get(pool, n, key), r.get(RAW_OF[pool], n, key)
            if a is None or b is None or not b:
                continue
            oks.append(test(a, b))
            cells.append(f"{pool.split(' · ', 1)[1]} {show(a, b)}")
        return "; ".join(cells) or "–", (all(oks) if oks else None)
    for n in (1000, 1):
        text, ok = per_runtime(n, "cpu", lambda a, b: a / b <= GOAL_CPU_RATIO, lambda a, b: f"{a / b:.2f}×")
        rows.append([f"client CPU per request ≤ {GOAL_CPU_RATIO}× raw zeromq DEALER's on its runtime, {n:,} in flight",
                     text, goal(ok)])
    for n in (1000, 10000):
        text, ok = per_runtime(n, "rps", lambda a, b: a / b >= GOAL_THROUGHPUT_RATIO, lambda a, b: f"{a / b:.2f}×")
        rows.append([f"throughput ≥ {GOAL_THROUGHPUT_RATIO}× raw zeromq DEALER's on its runtime, {n:,} in flight",
                     text, goal(ok)])
    text, ok = per_runtime(10000, "rss", lambda a, b: a - b <= GOAL_RSS_OVER_RAW_MIB, lambda a, b: f"{a - b:+.1f} MiB")
    rows.append([f"peak RSS ≤ raw zeromq DEALER's + {GOAL_RSS_OVER_RAW_MIB:g} MiB, 10,000 in flight", text, goal(ok)])
    if scale_rows:
        cells = []
        oks = []
        for n in sorted({n for (_, n), _ in scale_rows}):
            ks = {k: med(m["cpu"]) for (k, n2), m in scale_rows if n2 == n}
            lo_k, hi_k = min(ks), max(ks)
            if ks[lo_k] and ks[hi_k] and lo_k != hi_k:
                q = ks[hi_k] / ks[lo_k]
                oks.append(q <= GOAL_SCALING)
                cells.append(f"{q:.2f}× from {lo_k} to {hi_k} servers ({n:,} in flight in all)")
        rows.append([f"client CPU per request at 256 servers ≤ {GOAL_SCALING}× that at 1", "; ".join(cells) or "–",
                     goal(all(oks) if oks else None)])
    w(table(["goal", "this run", ""], rows, ["l", "l", "l"]))
    w("")
    if notes:
        w(notes.rstrip())
        w("")
    return "\n".join(out)


# ----- the chart ------------------------------------------------------------------------------

COLOURS = {
    MMPOOL: "#d62728",
    POOL["async-std"]: "#ff7f0e",
    POOL["smol"]: "#e377c2",
    RAW["tokio multi-thread"]: "#1f77b4",
    RAW["async-std"]: "#6baed6",
    RAW["smol"]: "#9ecae1",
    LIBZMQ: "#2ca02c",
    PYTHON: "#7f7f7f",
}


def svg(r):
    ns = r.inflights()
    series = [c for c in COLOURS if any((c, n) in r.tp for n in ns)]
    points = {c: [(n, r.get(c, n, "rps")) for n in ns if r.get(c, n, "rps")] for c in series}
    values = [v for pts in points.values() for _, v in pts]
    if not values:
        return None
    width, height = 860, 460
    left, right, top, bottom = 80, 300, 40, 60
    pw, ph = width - left - right, height - top - bottom
    x_lo, x_hi = math.log10(min(ns)), math.log10(max(ns))
    y_lo = math.log10(min(values) / 1.3)
    y_hi = math.log10(max(values) * 1.3)
    if x_hi == x_lo:
        x_hi = x_lo + 1

    def x(n):
        return left + (math.log10(n) - x_lo) / (x_hi - x_lo) * pw

    def y(v):
        return top + ph - (math.log10(v) - y_lo) / (y_hi - y_lo) * ph

    s = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
        "Throughput vs requests in flight (one client, one server)</text>",
        f'<text x="{left + pw + 16}" y="{top + ph - 24}" font-size="11" fill="#555">server: one mmpool serve</text>',
        f'<text x="{left + pw + 16}" y="{top + ph - 10}" font-size="11" fill="#555">(testkit, --send-hwm 0), tcp, 2 cores</text>',
    ]
    for e in range(math.floor(y_lo), math.ceil(y_hi) + 1):
        for m in (1, 2, 5):
            v = m * 10**e
            if v < 10**y_lo or v > 10**y_hi:
                continue
            yy = y(v)
            s.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#ddd" '
                     f'stroke-width="{1 if m == 1 else 0.5}"/>')
            label = f"{v:,.0f}" if v >= 1 else f"{v:g}"
            s.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{label}</text>')
    for n in ns:
        xx = x(n)
        s.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        s.append(f'<text x="{xx:.1f}" y="{top + ph + 18}" text-anchor="middle">{n:,}</text>')
    s.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    s.append(f'<text x="{left + pw / 2}" y="{height - 18}" text-anchor="middle">requests in flight per client '
             "(log scale)</text>")
    s.append(f'<text transform="translate(18 {top + ph / 2}) rotate(-90)" text-anchor="middle">requests per second '
             "(log scale)</text>")
    for i, c in enumerate(series):
        pts = points[c]
        colour = COLOURS[c]
        dash = ' stroke-dasharray="5 4"' if c in (RAW["async-std"], RAW["smol"]) else ""
        width_ = 3 if c == MMPOOL else 2
        path = " ".join(f"{'M' if j == 0 else 'L'}{x(n):.1f},{y(v):.1f}" for j, (n, v) in enumerate(pts))
        s.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{width_}"{dash}/>')
        for n, v in pts:
            s.append(f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}"><title>{esc(c)}: '
                     f"{v:,.0f} req/s at {n} in flight</title></circle>")
        ly = top + 10 + i * 22
        lx = left + pw + 16
        s.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{colour}" stroke-width="{width_}"{dash}/>')
        s.append(f'<text x="{lx + 30}" y="{ly + 4}">{esc(SHORT.get(c, c))}</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: anchors_report.py OUT_DIR REPORT.md CHART.svg")
    out, report_path, svg_path = sys.argv[1:]
    r = load(out)
    if not r.tp:
        sys.exit(f"anchors_report: no results under {out}")
    notes_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    notes = open(notes_path).read() if os.path.exists(notes_path) else ""
    text = report(r, machine(out), notes)
    if os.path.exists(report_path):
        with open(report_path) as f:
            kept = kept_sections(f.read(), text)
        if kept:
            text = text.rstrip("\n") + "\n\n" + "\n".join(kept)
    with open(report_path, "w") as f:
        f.write(text)
    chart = svg(r)
    if chart:
        with open(svg_path, "w") as f:
            f.write(chart)
    print(re.sub(r"\n{3,}", "\n\n", text.split("## Goals", 1)[-1]).strip())


if __name__ == "__main__":
    main()
