# Sourced (not run) by scripts that start every worker in one `wrangler dev` session.
#   wrangler_configs            sets the array `configs`: the gateway's wrangler.toml, then each
#                               action worker's, in the order the session needs them
#   wait_for_gateway API PID LOG
#                               polls API/health until it answers (at most 600 tries, 0.2 s
#                               apart); fails with LOG's tail when PID (wrangler) exits first or
#                               the gateway never answers
# shellcheck shell=bash

wrangler_configs() {
  configs=(-c wrangler.toml)
  local w
  for w in list_servers list_tools call_tool sync_tools admin; do configs+=(-c "functions/$w/wrangler.toml"); done
}

wait_for_gateway() { # api pid log
  local _
  for _ in $(seq 1 600); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { tail -n 40 "$3"; return 1; }
    sleep 0.2
  done
  echo "the gateway did not come up on $1" >&2
  tail -n 40 "$3"
  return 1
}
