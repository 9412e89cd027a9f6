#!/usr/bin/env bash
# Checks that the workspace's `rust-version` (Cargo.toml, [workspace.package]) is not older than
# what any dependency of the published crates declares, in the versions Cargo.lock pins.
#
# Only what a user of the published crates compiles counts: their normal and build dependencies,
# with every feature on (optional dependencies such as async-dispatcher included).
# Dev-dependencies (criterion, proptest, ...) are ours alone and may need a newer compiler.
# CI also builds the published crates with that toolchain (.ci/run), which checks our own code.
#
# Usage: scripts/check-msrv.sh            # exit 1, naming the crates, when rust-version is too old
set -euo pipefail
cd "$(dirname "$0")/.."

# The crates users depend on (the ones `cargo package` checks in .ci/run).
PUBLISHED="mmpool-zeromq pool-core pool-driver pool-tokio pool-async-std pool-smol pool-testkit pool-measure pool-cli"

cargo metadata --format-version 1 --all-features --locked | PUBLISHED="$PUBLISHED" python3 -c '
import json, os, sys

meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
members = set(meta["workspace_members"])
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
published = os.environ["PUBLISHED"].split()

def version(text):
    """rust-version "1.89" or "1.89.0" as a comparable tuple (1, 89, 0)."""
    parts = [int(x) for x in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

def dotted(v):
    return ".".join(str(x) for x in v)

roots = [i for i in members if packages[i]["name"] in published]
missing = set(published) - {packages[i]["name"] for i in roots}
if missing:
    sys.exit(f"check-msrv: not workspace members: {sorted(missing)}")

# Every package reachable from the published crates through normal or build dependencies.
seen, todo = set(), list(roots)
while todo:
    node = nodes[todo.pop()]
    if node["id"] in seen:
        continue
    seen.add(node["id"])
    for dep in node["deps"]:
        if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
            todo.append(dep["pkg"])

ours = {packages[i]["rust_version"] for i in roots}
if len(ours) != 1:
    sys.exit(f"check-msrv: the published crates declare different rust-versions: {sorted(ours)}")
ours = ours.pop()
if ours is None:
    sys.exit("check-msrv: the published crates declare no rust-version")
needed = sorted(
    ((version(packages[i]["rust_version"]), packages[i]["name"], packages[i]["version"])
     for i in seen if i not in members and packages[i]["rust_version"]),
    reverse=True,
)
newest = needed[0][0] if needed else (0, 0, 0)
too_new = [f"{name} {v} (rust-version {dotted(r)})" for r, name, v in needed if r > version(ours)]
print(f"check-msrv: rust-version {ours}; {len(seen) - len(roots)} dependencies, "
      f"the newest requirement {dotted(newest)} ({needed[0][1]} {needed[0][2]})")
if too_new:
    sys.exit("check-msrv: rust-version " + ours + " is older than these dependencies need:\n  "
             + "\n  ".join(too_new))
'
