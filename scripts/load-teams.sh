#!/usr/bin/env bash
# Load script (issue 15; docs/CAPACITY.md): builds the workers in release mode, starts the whole
# stack under `wrangler dev` on free loopback ports with its own local state, seeds N teams each
# with its own server-everything, drives them all at once for a fixed time and prints calls/s,
# the D1 queries/writes, KV and Durable Object requests and invocations per call (counted in the
# local runtime's trace store), executions rows and D1 bytes per call, workerd CPU per call, each
# beside the capacity model's prediction for that load. Nothing here asserts a figure.
#   scripts/load-teams.sh [teams=32] [callers_per_team=4] [seconds=20]
# MCP_EDGE_PROFILE=fastdev builds faster (figures then are not release figures).
set -euo pipefail
# shellcheck source=lib/env.sh
source "$(dirname "$0")/lib/env.sh"
profile=${MCP_EDGE_PROFILE:-release}

echo "# mcp-edge load, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores, workers built $profile, command: scripts/load-teams.sh $*"
echo "building the workers ($profile)…" >&2
MCP_EDGE_PROFILE="$profile" scripts/build-workers.sh >target/load-build.log 2>&1 || { tail -n 40 target/load-build.log; exit 1; }
echo "building and running the load…" >&2
MCP_EDGE_PREBUILT=1 cargo run --release -q -p integration --bin load_teams -- "$@"
