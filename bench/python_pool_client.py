#!/usr/bin/env python3
"""hololinked 0.4.2's own `MessageMappedZMQClientPool` as a benchmark client (the Python anchor of
scripts/bench-anchors.sh).

    python python_pool_client.py --endpoint tcp://127.0.0.1:PORT --server-id srv \
        --inflight N [--requests M] [--max-seconds S] [--warmup W]

The pool is set up the way hololinked's HTTP server sets it up: one
`AsyncZMQClient` per server, handshaken first, registered under its Thing, and the pool's single
`poll_responses` task. `--inflight N` coroutines each `await pool.async_execute(...)` of
`readproperty number` one after another (N = 1 is the sequential case), like the baseline's
`asyncio.gather` runs of hololinked's own clients. Every reply is checked
(type REPLY, payload a number); failures are counted.

The server-side invokation timeout is sent as `null`, like the Rust clients of the same run (a
testkit server keeps one timer per request otherwise); the execution timeout stays 5 s.

The run stops after `--requests` measured requests or `--max-seconds`, whichever comes first (the
Python pool is slow: this bounds the whole anchor script's time). Prints one JSON object on stdout:
req_per_s, latency_us (p50/p99/mean of every measured request), client_cpu_us_per_req (this
process's utime+stime during the measured part, from getrusage), peak_rss_kib (ru_maxrss at the
end), errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True, help="the server's endpoint, tcp://host:port or ipc:///path")
    ap.add_argument("--server-id", default="srv", help="the server id, which is also its Thing (default srv)")
    ap.add_argument("--inflight", type=int, default=1, help="coroutines issuing requests one after another")
    ap.add_argument("--requests", type=int, default=2000, help="measured requests at most (default 2000)")
    ap.add_argument("--max-seconds", type=float, default=10.0, help="measured time at most (default 10)")
    ap.add_argument("--warmup", type=int, default=200, help="untimed requests first (default 200)")
    args = ap.parse_args()
    if args.inflight < 1 or args.requests < 1 or args.max_seconds <= 0 or args.warmup < 0:
        ap.error("--inflight and --requests must be >= 1, --max-seconds > 0, --warmup >= 0")
    return args


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(len(sorted_values) * q))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict:
    # Imported here so that --help works without the venv.
    import logging

    from hololinked.config import global_config
    from hololinked.core.eventloop.operations import SchedulerExecutionContext
    from hololinked.server.zmq.brokers import AsyncZMQClient, MessageMappedZMQClientPool

    global_config.set(LOG_LEVEL=logging.ERROR)
    pid = os.getpid()
    pool = MessageMappedZMQClientPool(
        id=f"bench-pypool-{pid}", client_ids=[], server_ids=[], handshake=False, poll_timeout=25
    )
    client = AsyncZMQClient(
        id=f"bench-pyclient-{pid}",
        server_id=args.server_id,
        access_point=args.endpoint,
        handshake=False,
        context=pool.context,
    )
    client.handshake(10000)
    await client.handshake_complete(10000)
    pool.register(client, args.server_id)
    pool.start_polling()
    context = SchedulerExecutionContext(invokation_timeout=None, execution_timeout=5, oneway=False)

    errors: dict[str, int] = {}
    first_error: list[str] = []

    def fail(kind: str, message: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1
        if not first_error:
            first_error.append(message)

    async def one() -> bool:
        try:
            reply = await pool.async_execute(
                thing_id=args.server_id,
                objekt="number",
                operation="readproperty",
                server_execution_context=context,
            )
        except Exception as ex:  # noqa: BLE001 - counted, never silent
            fail(type(ex).__name__, repr(ex))
            return False
        if reply.type != "REPLY":
            fail(reply.type.lower(), f"reply type {reply.type}")
            return False
        value = reply.payload.deserialize()
        if not isinstance(value, (int, float)):
            fail("bad_reply", f"payload {value!r} is not a number")
            return False
        return True

    # Warm-up: the same shape, untimed.
    warm_left = args.warmup

    async def warm_worker() -> None:
        nonlocal warm_left
        while warm_left > 0:
            warm_left -= 1
            await one()

    await asyncio.gather(*(warm_worker() for _ in range(min(args.inflight, max(args.warmup, 1)))))

    latencies: list[float] = []
    left = args.requests
    deadline = time.perf_counter() + args.max_seconds

    async def worker() -> None:
        nonlocal left
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            t = time.perf_counter()
            if await one():
                latencies.append(time.perf_counter() - t)

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.inflight)))
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    done = args.requests - left
    pool.stop_polling()
    try:
        pool.exit()
    except Exception:  # noqa: BLE001 - hololinked's exit() is known to raise, docs/protocol.md §18
        pass

    latencies.sort()
    n_errors = sum(errors.values())
    return {
        "client": "python-pool",
        "hololinked": __import__("importlib.metadata").metadata.version("hololinked"),
        "python": sys.version.split()[0],
        "endpoint": args.endpoint,
        "inflight": args.inflight,
        "requests": done,
        "errors": n_errors,
        "errors_by_kind": errors,
        "first_error": first_error[0] if first_error else None,
        "elapsed_s": round(elapsed, 4),
        "stopped_by": "requests" if left <= 0 else "time",
        "req_per_s": round((done - n_errors) / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_us": {
            "p50": round(quantile(latencies, 0.50) * 1e6, 1),
            "p99": round(quantile(latencies, 0.99) * 1e6, 1),
            "mean": round(sum(latencies) / len(latencies) * 1e6, 1) if latencies else 0.0,
        },
        "client_cpu_us_per_req": round(cpu * 1e6 / max(done, 1), 2),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def main() -> None:
    args = parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result), flush=True)
    # hololinked's sockets and threads may keep the interpreter alive; the result is out.
    os._exit(0 if result["errors"] == 0 else 1)


if __name__ == "__main__":
    main()
