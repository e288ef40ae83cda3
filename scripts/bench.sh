#!/usr/bin/env bash
# Benchmarks (see BENCHMARKS.md): builds every worker in release mode, prints each worker's
# wasm size (raw and gzipped) and compile/instantiate time, then runs the gateway benchmark under
# `wrangler dev` on loopback (tests/src/bin/bench_gateway.rs: the /health floors on wrangler's
# proxy port and on workerd's inner port, call_tool overhead vs a direct client and vs IBM
# ContextForge, /mcp tools/call of the same echo beside both, one team vs many teams at once, list_tools cached and not, list_servers,
# per-stage Server-Timing, storage trips per call, upstream requests per warm call, workerd peak
# RSS, and issue 15's targets met or not). Figures are printed beside baselines measured in the
# same run; nothing here asserts a timing.
#   scripts/bench.sh [calls=300] [concurrent_calls=800]
# ContextForge (PyPI mcp-contextforge-gateway, installed once into target/contextforge-venv) is
# on by default; MCP_EDGE_BENCH_CONTEXTFORGE=0 skips it. MCP_EDGE_BENCH_TEAMS (32) sets the
# number of teams of the many-teams run.
set -euo pipefail
# shellcheck source=lib/env.sh
source "$(dirname "$0")/lib/env.sh"

echo "# mcp-edge benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "- $(rustc --version), wrangler $(wrangler --version 2>/dev/null | tail -n1), node $(node --version)"
echo "- command: scripts/bench.sh $*"

echo
echo "building the workers (release: opt-level z, LTO, wasm-opt)…" >&2
MCP_EDGE_PROFILE=release scripts/build-workers.sh >target/bench-build.log 2>&1 || { tail -n 40 target/bench-build.log; exit 1; }

echo
echo "## Worker size and start-up (release build)"
echo
echo "| worker | wasm raw KiB | wasm gzip KiB | JS glue KiB | compile ms | instantiate ms |"
echo "|---|---|---|---|---|---|"
for w in gateway list_servers list_tools call_tool sync_tools admin; do
  wasm="functions/$w/build/index_bg.wasm"
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  js=$(stat -c %s "functions/$w/build/index.js")
  timing=$(node tests/bench/wasm_startup.mjs "$wasm")
  compile=$(printf '%s' "$timing" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["compile_ms"])')
  inst=$(printf '%s' "$timing" | python3 -c 'import json,sys,math; v=json.load(sys.stdin)["instantiate_ms"]; print("n/a" if v is None or (isinstance(v,float) and math.isnan(v)) else "%.1f" % v)')
  printf '| %s | %d | %d | %d | %s | %s |\n' "$w" $((raw / 1024)) $((gz / 1024)) $((js / 1024)) "$compile" "$inst"
done

if [ "${MCP_EDGE_BENCH_CONTEXTFORGE:-1}" = 1 ]; then
  venv="$root/target/contextforge-venv"
  if [ ! -x "$venv/bin/mcpgateway" ]; then
    echo "installing ContextForge into $venv (once, a few minutes)…" >&2
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q mcp-contextforge-gateway; } \
        >target/contextforge-install.log 2>&1; then
      MCP_EDGE_CONTEXTFORGE_UNAVAILABLE="pip install mcp-contextforge-gateway failed ($(python3 --version)): $(tail -n 1 target/contextforge-install.log)"
      export MCP_EDGE_CONTEXTFORGE_UNAVAILABLE
    fi
  fi
  export MCP_EDGE_BENCH_CONTEXTFORGE=1
fi

echo "building and running the gateway benchmark…" >&2
MCP_EDGE_PREBUILT=1 cargo run --release -q -p integration --bin bench_gateway -- "$@"
