#!/usr/bin/env bash
# Builds every worker (see build-worker.sh for MCP_EDGE_PROFILE).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for crate in gateway list_servers list_tools call_tool sync_tools admin; do
  "$root/scripts/build-worker.sh" "$crate"
done
