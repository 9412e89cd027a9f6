#!/usr/bin/env python3
"""Capture golden EVENT vectors from a live hololinked server (thing_server.py) with a plain pyzmq SUB socket.

    <venv>/bin/python capture_events.py OUT_DIR [--tcp PORT] [--ipc]

Starts `thing_server.py --id demo` (one Thing, `demo`) in a temp HOME, subscribes to everything on the event
publisher the READY line names, triggers `push_ticks(count=1)` until the first tick arrives (PUB/SUB slow
joiner), drains, then captures `push_ticks(count=2)` (ticks {"n":0}, {"n":1}) and `level := 2.5` (one
`level_change_event`), and writes `event_<version>_<transport>_<what>.json` into OUT_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = "golden-client"
SERVER = "demo"


def request(dealer, thing, objekt, operation, payload):
    header = {
        "messageType": "OPERATION",
        "messageID": str(uuid.uuid4()),
        "senderID": CLIENT,
        "receiverID": SERVER,
        "serverExecutionContext": {"invokation_timeout": 5, "execution_timeout": 5, "oneway": False},
        "thingExecutionContext": {"fetch_execution_logs": False},
        "thingID": thing,
        "objekt": objekt,
        "operation": operation,
        "payloadContentType": "application/json",
        "preencodedPayloadContentType": "text/plain",
    }
    frames = [b"", json.dumps(header, separators=(",", ":")).encode(), json.dumps(payload).encode(), b""]
    dealer.send_multipart(frames)
    if not dealer.poll(10000):
        raise TimeoutError(f"no reply to {objekt}")
    reply = dealer.recv_multipart()
    return header, payload, reply


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tcp", type=int)
    ap.add_argument("--ipc", action="store_true")
    args = ap.parse_args()
    transport = "ipc" if args.ipc else "tcp"
    home = tempfile.mkdtemp(prefix="mmpool-py-capture-")
    env = dict(os.environ, HOME=home, TEMP_DIR=os.path.join(home, ".hololinked"))
    cmd = [sys.executable, "-u", os.path.join(HERE, "thing_server.py"), "--id", SERVER]
    cmd += ["--ipc"] if args.ipc else ["--tcp", str(args.tcp)]
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        info = json.loads(proc.stdout.readline().decode().split(" ", 1)[1])
        version = info["version"]
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(info[f"event_{transport}"])
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt_string(zmq.IDENTITY, CLIENT)
        dealer.connect(info[transport])
        for _ in range(100):
            request(dealer, SERVER, "push_ticks", "invokeaction", {"count": 1})
            if sub.poll(200):
                break
        else:
            raise TimeoutError("no tick reached the SUB socket")
        while sub.poll(300):
            sub.recv_multipart()

        def capture(what, objekt, operation, payload, n, description):
            header, payload, reply = request(dealer, SERVER, objekt, operation, payload)
            events = [sub.recv_multipart() for _ in range(n)]
            doc = {
                "name": f"event_{what}",
                "transport": transport,
                "description": description,
                "hololinked_version": version,
                "server_id": SERVER,
                "thing_id": SERVER,
                # The temp HOME is replaced by `<HOME>` (it differs per run).
                "request_endpoint": info[transport].replace(home, "<HOME>"),
                "event_endpoint": info[f"event_{transport}"].replace(home, "<HOME>"),
                "subscription": "",
                "trigger": {"header": header, "payload": payload, "reply_frames_utf8": [f.decode() for f in reply]},
                "events": [
                    {
                        "frames_hex": [f.hex() for f in ev],
                        "frames_utf8": [f.decode("utf-8", "replace") for f in ev],
                        "header": json.loads(ev[2]),
                    }
                    for ev in events
                ],
                "nondeterministic": [
                    "events[].header.messageID (uuid4 per event)",
                    "trigger.header.messageID",
                    "request_endpoint / event_endpoint (tcp port; <HOME> = the temp HOME)",
                ],
            }
            name = f"event_{version}_{transport}_{what}.json"
            with open(os.path.join(args.out, name), "w") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
            print(name, file=sys.stderr)

        capture("tick", "push_ticks", "invokeaction", {"count": 2}, 2,
                'invokeaction push_ticks(count=2) -> two EVENTs on topic "demo/tick", payloads {"n":0} and {"n":1}')
        capture("level_change", "level", "writeproperty", 2.5, 1,
                'writeproperty level := 2.5 (observable Number) -> one EVENT on topic "demo/level_change_event", payload 2.5')
    finally:
        proc.kill()
        proc.wait()
        import shutil

        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
