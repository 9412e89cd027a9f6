#!/usr/bin/env python3
"""A real hololinked ZMQ server for the mmpool live-interop tests (package `pool-tests`).

Runs unchanged on both hololinked lines:

* 0.4.x (`pip install "hololinked[zmq]==0.4.2"`): `hololinked.server.zmq.ZMQServer` + `hololinked.server.run`
  (which starts the per-Thing `EventLoop`).
* 0.3.x (`pip install "hololinked==0.3.12"`): `hololinked.server.zmq.ZMQServer` (an `RPCServer` subclass) +
  `hololinked.server.run` (which runs the RPC server in a thread).

Both lines can serve several Things from ONE server (one ROUTER socket per transport, requests pick the Thing
with the header's `thingID`), so `--things a,b,c` works on both.

Usage (the harness in pool-testkit/src/python.rs sets HOME and TEMP_DIR to a temp dir first):

    python thing_server.py --id srv [--things a,b] [--tcp PORT] [--ipc] [--sub-things]

stdout carries exactly one line, `READY {"tcp": ..., "ipc": ..., "version": ..., "event_tcp": ..., "event_ipc": ...,
"things": [...]}` (`event_*` = the server's event PUB endpoints, or null; `things` = the served Thing ids, sub-Things
included), printed (flushed) only after a
DEALER of this process got a HANDSHAKE reply from every endpoint. Everything else goes to stderr (fd 1 is
redirected to fd 2 before hololinked is imported, so even hololinked's own prints cannot corrupt stdout).

Exit codes: 3 = the TCP port could not be bound (the harness picks another port and retries), 4 = readiness
timed out, 2 = bad arguments. The process exits at once when its stdin reaches EOF (the parent died), so a crashed
test run leaves no server behind; with MMPOOL_REMOVE_HOME_ON_EOF=1 it also removes its temp HOME then.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import uuid

EXIT_BIND_FAILED = 3
EXIT_NOT_READY = 4

# Keep the real stdout for the READY line only; everything else written to fd 1 (prints, C libraries,
# logging handlers bound to sys.stdout) goes to stderr from here on.
_ready_fd = os.dup(1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def log(msg: str) -> None:
    """Log a line to stderr (the harness shows the stderr tail on failure)."""
    try:
        print(f"[thing_server {os.getpid()}] {msg}", file=sys.stderr, flush=True)
    except Exception:  # noqa: BLE001 - stderr is gone when the parent died; never let logging kill us
        pass


def watch_stdin() -> None:
    """Exit the whole process as soon as stdin reaches EOF (the parent test process died or closed it)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except Exception:  # noqa: BLE001 - any failure to read means the parent is gone
        pass
    home = os.environ.get("HOME")
    if os.environ.get("MMPOOL_REMOVE_HOME_ON_EOF") == "1" and home and os.path.basename(home).startswith("mmpool-py-"):
        # The harness only closes stdin after SIGKILL, so EOF while alive means the test process died and
        # cannot remove its temp HOME any more: do it here.
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    log("stdin closed, exiting")
    os._exit(0)


def handshake_probe(endpoint: str, server_id: str, deadline: float) -> None:
    """Connect a DEALER to `endpoint` and resend HANDSHAKE every 200 ms until one is answered."""
    import zmq

    ctx = zmq.Context.instance()
    ident = f"ready-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt_string(zmq.IDENTITY, ident)
    sock.connect(endpoint)
    try:
        while time.monotonic() < deadline:
            header = {
                "messageType": "HANDSHAKE",
                "messageID": str(uuid.uuid4()),
                "senderID": ident,
                "receiverID": server_id,
                "serverExecutionContext": {"invokationTimeout": 5, "executionTimeout": 5, "oneway": False},
                "thingExecutionContext": {"fetchExecutionLogs": False},
                "thingID": "",
                "objekt": "",
                "operation": "",
                "payloadContentType": "application/json",
                "preencodedPayloadContentType": "text/plain",
            }
            sock.send_multipart([b"", json.dumps(header, separators=(",", ":")).encode(), b"null", b""])
            if sock.poll(200):
                frames = sock.recv_multipart()
                try:
                    reply = json.loads(frames[1])
                except Exception:  # noqa: BLE001
                    continue
                if reply.get("messageType") == "HANDSHAKE":
                    return
        raise TimeoutError(f"no HANDSHAKE reply from {endpoint}")
    finally:
        sock.close(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--id", required=True, help="server id (ROUTER identity)")
    ap.add_argument("--things", default=None, help="comma-separated Thing ids served (default: the server id)")
    ap.add_argument("--tcp", type=int, default=None, help="bind tcp://127.0.0.1:PORT")
    ap.add_argument("--ipc", action="store_true", help="bind hololinked's default ipc path for the server id")
    ap.add_argument("--log-level", default="WARNING")
    ap.add_argument(
        "--sub-things",
        action="store_true",
        help="give every Thing a sub-Thing `sensor` (id {thing}/sensor, property gain, actions reset/fire, event alarm)",
    )
    ap.add_argument("--ready-timeout", type=float, default=50.0, help="seconds to wait for our own HANDSHAKE")
    ap.add_argument(
        "--no-stdin-watch",
        action="store_true",
        help="do not exit on stdin EOF (for running by hand with stdin at /dev/null)",
    )
    args = ap.parse_args()
    if args.tcp is None and not args.ipc:
        ap.error("give --tcp PORT and/or --ipc")
    thing_ids = [t for t in (args.things or args.id).split(",") if t]
    if not thing_ids or len(set(thing_ids)) != len(thing_ids):
        ap.error("--things must be distinct, non-empty ids")

    if not args.no_stdin_watch:
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    t0 = time.monotonic()
    from importlib.metadata import version as dist_version

    version = dist_version("hololinked")
    line = tuple(int(p) for p in version.split(".")[:2])
    log(f"hololinked {version}, HOME={os.environ.get('HOME')}")

    # hololinked computes TEMP_DIR (= ~/.hololinked, where ipc sockets live) at import time from HOME; the
    # harness points HOME at a temp dir. An explicit TEMP_DIR env var (the harness sets it to $HOME/.hololinked)
    # is applied on top, so both agree.
    from hololinked.config import global_config

    cfg = {"LOG_LEVEL": getattr(logging, args.log_level.upper())}
    if os.environ.get("TEMP_DIR"):
        cfg["TEMP_DIR"] = os.environ["TEMP_DIR"]
    global_config.set(**cfg)

    from hololinked.core import Event, Thing, action
    from hololinked.core.properties import Number, String
    from hololinked.server import run
    from hololinked.server.zmq import ZMQServer

    class HarnessThing(Thing):
        """The Thing every interop test talks to; the Rust fake server offers the same names."""

        number = Number(default=1.5, doc="a writable float property")
        text = String(default="hello", doc="a writable string property")
        level = Number(
            default=0.0,
            observable=True,
            doc="an observable float property: a write (or read) of a new value publishes `level_change_event` (payload = new value)",
        )
        tick = Event(doc="a custom event; payload {\"n\": i} (plus \"pad\": \"x\"*pad when padded)")

        def _tick_payload(self, n, pad):
            return {"n": n, "pad": "x" * pad} if pad else {"n": n}

        @action()
        def push_ticks(self, count, interval=0.0, pad=0):
            """Push `count` tick events with payload {"n": i} (i from 0), `interval` seconds apart, and return
            `count` only then: all of them are on the PUB socket before the REPLY is sent."""
            for i in range(int(count)):
                if i and interval:
                    time.sleep(interval)
                self.tick.push(self._tick_payload(i, int(pad)))
            return count

        @action()
        def start_ticks(self, interval=0.0, pad=0):
            """Push ticks {"n": 0}, {"n": 1}, ... every `interval` seconds (0 = as fast as possible) until
            `stop_ticks()`; `pad` > 0 adds "pad": "x" * pad to each payload. Restarts the counter if already
            running. Returns null."""
            self.stop_ticks()
            stop = threading.Event()

            def run():
                n = 0
                while not stop.is_set():
                    self.tick.push(self._tick_payload(n, int(pad)))
                    n += 1
                    if interval:
                        stop.wait(interval)

            self._ticker = (stop, threading.Thread(target=run, name="ticker", daemon=True))
            self._ticker[1].start()

        @action()
        def stop_ticks(self):
            """Stop the ticker of `start_ticks` (no-op if none runs); returns null."""
            ticker = getattr(self, "_ticker", None)
            if ticker is not None:
                ticker[0].set()
                ticker[1].join()
                self._ticker = None

        @action()
        def echo(self, value):
            """Return `value` unchanged."""
            return value

        @action()
        def add(self, a, b):
            """Return a + b (kwargs, or positional through `__args__`)."""
            return a + b

        @action()
        def sleep_for(self, seconds):
            """Block this Thing's executor for `seconds`, then return `seconds`."""
            time.sleep(seconds)
            return seconds

        @action()
        def fail(self, message):
            """Always raise ValueError(message)."""
            raise ValueError(message)

        @action()
        def get_bytes(self):
            """Return raw bytes: the reply carries them in the preserialized frame, payload `null`."""
            return b"\x00\x01\x02"

        @action()
        def get_mixed(self):
            """Return a JSON value plus bytes: payload `"foobar"`, preserialized `foobar`."""
            return "foobar", b"foobar"

        @action()
        def log_and_return(self, message, value):
            """Log `message` at WARNING on the Thing's logger, return `value` (execution-logs tests)."""
            self.logger.warning(message)
            return value

        @action()
        def log_and_fail(self, message):
            """Log `message` at WARNING on the Thing's logger, then raise ValueError(message)."""
            self.logger.warning(message)
            raise ValueError(message)

        @action()
        def fail_with_notes(self, message, note):
            """Raise ValueError(message) carrying `note` (`add_note`)."""
            ex = ValueError(message)
            ex.add_note(note)
            raise ex

        @action()
        def echo_msgpack(self, value):
            """Return `value`; its replies are msgpack (a serializer registered for this action)."""
            return value

    class Sensor(Thing):
        """A sub-Thing held by a HarnessThing (`--sub-things`)."""

        gain = Number(default=2.0, doc="a writable float property of the sub-Thing")
        alarm = Event(doc="a sub-Thing event; `fire()` pushes {\"gain\": gain}")

        @action()
        def reset(self):
            """Set gain back to 2.0; returns null."""
            self.gain = 2.0

        @action()
        def fire(self):
            """Push one `alarm` event with payload {"gain": gain}; returns null."""
            self.alarm.push({"gain": self.gain})

    try:  # 0.4.x
        from hololinked import Serializers
    except ImportError:  # 0.3.x
        from hololinked.serializers import Serializers
    try:
        from hololinked.serializers import MsgpackSerializer
    except ImportError:
        from hololinked.serializers.serializers import MsgpackSerializer

    things = []
    for tid in thing_ids:
        thing = HarnessThing(id=tid)
        Serializers.register_for_object_per_thing_instance(tid, "echo_msgpack", MsgpackSerializer())
        things.append(thing)
        if line < (0, 4):
            # 0.3.x's execution-logs capture copies the formatter of the Thing's own stdlib logger's first
            # handler (`stdlib_logger.handlers[0]`) and raises IndexError when it has none: give it one.
            # 0.4.x falls back to the root logger's handlers and needs nothing.
            std = getattr(thing.logger, "_logger", thing.logger)
            if not std.handlers:
                std.addHandler(logging.StreamHandler(sys.stderr))
        if args.sub_things:
            thing.sensor = Sensor(id=f"{tid}/sensor")
            things.append(thing.sensor)
    served_ids = [t.id for t in things]

    access_points = []
    tcp_wanted = None
    if args.tcp is not None:
        tcp_wanted = f"tcp://127.0.0.1:{args.tcp}"
        access_points.append(tcp_wanted)
    if args.ipc:
        access_points.append("IPC")
    try:
        server = ZMQServer(id=args.id, access_points=access_points, things=things)
    except Exception as ex:  # noqa: BLE001
        # hololinked also binds an event publisher at PORT+1; if that (or anything) is taken, say
        # "bind failed" so the harness retries (another port, or the same one a moment later).
        if "Address already in use" in str(ex):
            log(f"BIND_FAILED: {ex!r}")
            os._exit(EXIT_BIND_FAILED)
        raise

    info = {
        "tcp": None,
        "ipc": None,
        "version": version,
        "event_tcp": None,
        "event_ipc": None,
        "things": served_ids,
    }
    if tcp_wanted is not None:
        bound = server.tcp_server.socket_address if server.tcp_server is not None else None
        if bound != tcp_wanted:
            # hololinked silently falls back to scanning 0.0.0.0:60000.. when the bind fails: refuse that.
            log(f"BIND_FAILED: asked for {tcp_wanted}, hololinked bound {bound}")
            os._exit(EXIT_BIND_FAILED)
        info["tcp"] = bound
    if args.ipc:
        info["ipc"] = server.ipc_server.socket_address
    # ONE PUB socket per transport for all Things' events (same attribute names on both lines).
    for key, attr in (("event_tcp", "tcp_event_publisher"), ("event_ipc", "ipc_event_publisher")):
        publisher = getattr(server, attr, None)
        if publisher is not None:
            info[key] = publisher.socket_address
    if tcp_wanted is not None:
        want_pub = f"tcp://127.0.0.1:{args.tcp + 1}"
        if info["event_tcp"] != want_pub:
            # PORT+1 was taken and hololinked scanned for another port: refuse, like the request port.
            log(f"BIND_FAILED: event publisher asked for {want_pub}, hololinked bound {info['event_tcp']}")
            os._exit(EXIT_BIND_FAILED)
    log(f"server {args.id!r} things={thing_ids} endpoints tcp={info['tcp']} ipc={info['ipc']} line={line}")

    def announce() -> None:
        deadline = t0 + args.ready_timeout
        try:
            for endpoint in (info["tcp"], info["ipc"]):
                if endpoint is not None:
                    handshake_probe(endpoint, args.id, deadline)
        except Exception as ex:  # noqa: BLE001
            log(f"NOT READY: {ex!r}")
            os._exit(EXIT_NOT_READY)
        log(f"ready after {time.monotonic() - t0:.2f} s")
        os.write(_ready_fd, ("READY " + json.dumps(info) + "\n").encode())

    threading.Thread(target=announce, name="ready-probe", daemon=True).start()
    # Blocking on both lines; the process is stopped by SIGKILL (or stdin EOF), never by EXIT.
    run(server, print_welcome_message=False)
    log("run() returned")
    os._exit(0)


if __name__ == "__main__":
    main()
