#!/usr/bin/env python3
"""Count hololinked events the way a Python user receives them, for the event bench.

Two modes, both hololinked's own code (run with a venv's python, 0.4.2 or 0.3.12):

* `--mode consumer` (default): hololinked's sync `EventConsumer` (0.4.2 `hololinked.server.zmq.brokers`,
  0.3.12 `hololinked.core.zmq.brokers`) on the publisher endpoint, subscribed to `EVENT_ID`
  (`"<thing id>/<event name>"`); each message is parsed into an `EventMessage` and its payload deserialized.
  This is what `ObjectProxy.subscribe_event` runs underneath (`ZMQEvent.listen`), without the callback
  scheduling.
* `--mode proxy`: the user-facing path, `ClientFactory.zmq(server_id, thing_id, request endpoint)` +
  `ObjectProxy.subscribe_event(name, callback)` (the proxy fetches the TD and finds the publisher itself).
  Needs `--server-id` and `--request-endpoint`, and a real hololinked server: `mmpool serve` has no Thing
  Description to give (the proxy fails at once with `KeyError: 'get_thing_description'`).

    python python_event_consumer.py --endpoint tcp://127.0.0.1:5556 --event demo/tick --seconds 5
    python python_event_consumer.py --mode proxy --request-endpoint tcp://127.0.0.1:5555 --server-id demo \\
        --event demo/tick --seconds 5

Counting starts at the first event received (so connect / slow-joiner time is not counted) and lasts
`--seconds`; `--wait` bounds the wait for the first event (exit 1 with a message when none came). Prints one JSON line on stdout:
`{"events": n, "seconds": s, "rate": r, "cpu_seconds": c}` (`cpu_seconds` = this process's user+system CPU
over the counting window, from `time.process_time()`, all threads).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid


def run_consumer(args) -> tuple[int, float, float]:
    try:
        from hololinked.server.zmq.brokers import EventConsumer  # 0.4.x
    except ImportError:
        from hololinked.core.zmq.brokers import EventConsumer  # 0.3.x

    consumer = EventConsumer(
        id=f"bench-consumer-{uuid.uuid4().hex[:8]}",
        event_unique_identifier=args.event,
        access_point=args.endpoint,
    )
    consumer.subscribe()
    # `EventConsumer.receive(timeout)` returns only with a message or after `interrupt()`: on a poll
    # timeout it polls again (both lines), so a publisher that sends nothing (or stops) would block it for
    # ever. A timer interrupts it at each deadline instead (the wait for the first event, the end of counting),
    # and sets a flag first: 0.3.12's `receive` does not recognise its own interrupt message (it compares the
    # polled socket with the wrong PAIR socket) and returns it like an event, so the flag, not the return
    # value, says that the deadline came.
    def deadline(seconds: float) -> threading.Event:
        passed = threading.Event()

        def interrupt() -> None:
            passed.set()
            consumer.interrupt()

        timer = threading.Timer(seconds, interrupt)
        timer.daemon = True
        timer.start()
        passed.timer = timer  # type: ignore[attr-defined]
        return passed

    try:
        waited = deadline(args.wait)
        first = consumer.receive(timeout=200)
        waited.timer.cancel()  # type: ignore[attr-defined]
        if first is None or waited.is_set():
            raise SystemExit(f"no event {args.event!r} on {args.endpoint} within {args.wait} s")
        first.payload.deserialize()
        t0, c0 = time.monotonic(), time.process_time()
        counted = deadline(args.seconds)
        n = 0
        while True:
            msg = consumer.receive(timeout=200)
            if msg is None or counted.is_set():  # the counting window is over
                break
            msg.payload.deserialize()
            n += 1
        return n, time.monotonic() - t0, time.process_time() - c0
    finally:
        consumer.exit()


def run_proxy(args) -> tuple[int, float, float]:
    from hololinked.client import ClientFactory

    thing_id, _, name = args.event.partition("/")
    if not (args.server_id and args.request_endpoint and name):
        raise SystemExit("--mode proxy needs --server-id, --request-endpoint and --event <thing id>/<name>")
    proxy = ClientFactory.zmq(args.server_id, thing_id, args.request_endpoint)
    lock = threading.Lock()
    state = {"n": 0, "t0": None, "c0": None}
    started = threading.Event()

    def on_event(_data) -> None:
        with lock:
            if state["t0"] is None:
                state["t0"], state["c0"] = time.monotonic(), time.process_time()
                started.set()
            else:
                state["n"] += 1

    proxy.subscribe_event(name, on_event)
    try:
        if not started.wait(args.wait):
            raise SystemExit(f"no event {name!r} of {thing_id!r} within {args.wait} s")
        time.sleep(args.seconds)
        with lock:
            n, t0, c0 = state["n"], state["t0"], state["c0"]
            return n, time.monotonic() - t0, time.process_time() - c0
    finally:
        try:
            proxy.unsubscribe_event(name)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("consumer", "proxy"), default="consumer")
    ap.add_argument("--endpoint", help="event publisher endpoint (consumer mode)")
    ap.add_argument("--event", required=True, help='event id "<thing id>/<event name>", e.g. demo/tick')
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to count, from the first event")
    ap.add_argument("--wait", type=float, default=20.0, help="max seconds to wait for the first event")
    ap.add_argument("--server-id", help="server id (proxy mode)")
    ap.add_argument("--request-endpoint", help="request endpoint (proxy mode)")
    args = ap.parse_args()
    if args.mode == "consumer":
        if not args.endpoint:
            ap.error("--mode consumer needs --endpoint")
        n, s, c = run_consumer(args)
    else:
        n, s, c = run_proxy(args)
    print(json.dumps({"events": n, "seconds": round(s, 4), "rate": round(n / s, 1) if s else 0.0,
                      "cpu_seconds": round(c, 4)}), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
