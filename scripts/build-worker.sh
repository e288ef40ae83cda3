#!/usr/bin/env bash
# Builds one worker crate (functions/<crate>) to functions/<crate>/build/ with worker-build,
# using the wasm-bindgen, wasm-opt and esbuild installed by scripts/install.sh (worker-build's
# own downloads cannot reach their host here).
#   MCP_EDGE_PROFILE=fastdev  quick unoptimised build (tests, local dev); default: release
#   MCP_EDGE_SKIP_BUILD=1     keep an existing build (the harness builds once, up front)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
crate=${1:?usage: build-worker.sh <crate>}
dir="$root/functions/$crate"
[ -d "$dir" ] || { echo "build-worker: no crate functions/$crate" >&2; exit 2; }
if [ -n "${MCP_EDGE_SKIP_BUILD:-}" ] && [ -f "$dir/build/index.js" ]; then
  exit 0
fi
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/@esbuild/linux-x64/bin/esbuild}"
profile=${MCP_EDGE_PROFILE:-release}
cd "$dir"
echo "build-worker: $crate ($profile)"
if [ "$profile" = release ]; then
  worker-build --release
else
  worker-build --profile "$profile" --no-opt
fi
