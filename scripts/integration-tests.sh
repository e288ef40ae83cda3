#!/usr/bin/env bash
# Runs the integration tests (crate `integration`, tests/tests/*.rs) in parallel lanes.
#
# Each test binary starts its own stack (wrangler dev in a private view of the checkout, its own
# state directory, servers on free ports), so binaries do not share anything but the machine.
# Most of a binary's time is waiting (a runtime starting, a tool sleeping, a breaker's cool-down),
# so two lanes on two cores finish in a little over half the time of one. Inside a binary the
# tests still run one at a time (--test-threads=1): they share that binary's stack.
#
#   scripts/integration-tests.sh [NAME ...]   the named binaries only (e.g. background browser)
#   MCP_EDGE_TEST_LANES   how many binaries run at once (default: 2, or 1 on a one-core machine)
#   MCP_EDGE_TEST_LOGS    where each binary's output goes (default target/integration-logs)
#
# Expects the workers built (scripts/build-workers.sh); exits non-zero when any binary fails,
# after printing the output of each one that failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
export MCP_EDGE_PREBUILT=1
say() { printf '\033[1mintegration:\033[0m %s\n' "$*"; }

cores=$(nproc 2>/dev/null || echo 1)
lanes=${MCP_EDGE_TEST_LANES:-$((cores >= 2 ? 2 : 1))}
logs=${MCP_EDGE_TEST_LOGS:-$root/target/integration-logs}
rm -rf "$logs"
mkdir -p "$logs"

# Seconds each binary took in a CI run (2 cores, two lanes, the container check beside them):
# longest first spreads the lanes evenly.
# A binary not listed counts as 30.
declare -A cost=(
  [openapi_fuzz]=111 [analytics]=105 [admin_credentials]=71 [rate_limits]=66 [cron]=63
  [background]=62 [hot_path]=54 [walking_skeleton]=46 [membership]=40 [mcp_endpoint]=36
  [resilience]=32 [mcp_conformance]=32 [stdio_e2e]=31 [tool_pinning]=25 [browser]=22
  [connectors_e2e]=17 [server_quota]=15 [stdio_sandbox]=13 [seed_client]=13 [security]=13
  [observability]=13 [internal_hop]=10
  [integration]=1 [bench_gateway]=1 [bench_ratelimit]=1 [load_teams]=1
)

say "building the test binaries (cargo test -p integration --no-run) and the stdio bridge they start"
cargo build -q -p stdio_bridge
# name<TAB>executable for every test target of the crate (its library's unit tests are `integration`).
mapfile -t built < <(cargo test -q -p integration --no-run --message-format=json \
  | jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
           | "\(.target.name)\t\(.executable)"')
[ "${#built[@]}" -gt 0 ] || { say "no test binaries were built"; exit 1; }

declare -A exe=()
for line in "${built[@]}"; do exe[${line%%$'\t'*}]=${line#*$'\t'}; done
if [ "$#" -gt 0 ]; then
  for name in "$@"; do
    [ -n "${exe[$name]:-}" ] || { say "no integration test binary named '$name'"; exit 2; }
  done
  names=("$@")
else
  names=("${!exe[@]}")
fi

# Longest first, each to the lane with the least work so far.
mapfile -t order < <(for n in "${names[@]}"; do printf '%s %s\n' "${cost[$n]:-30}" "$n"; done \
  | sort -rn | cut -d' ' -f2)
declare -a load=() plan=()
for ((l = 0; l < lanes; l++)); do load[l]=0; plan[l]=""; done
for n in "${order[@]}"; do
  best=0
  for ((l = 1; l < lanes; l++)); do ((load[l] < load[best])) && best=$l; done
  load[best]=$((load[best] + ${cost[$n]:-30}))
  plan[best]+="$n "
done

started=$SECONDS
say "${#order[@]} binaries in $lanes lane(s); each binary's output goes to ${logs#"$root"/}/<name>.log"
run_lane() {
  local lane=$1 name t0 rc
  shift
  for name in "$@"; do
    t0=$SECONDS
    rc=0
    (cd "$root/tests" && "${exe[$name]}" --test-threads=1) >"$logs/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$logs/$name.rc"
    if [ "$rc" -eq 0 ]; then
      say "lane $lane: ok     $name ($((SECONDS - t0)) s; $(grep -ho 'test result: ok. [0-9]* passed' "$logs/$name.log" | awk '{s += $4} END {print s + 0}') tests)"
    else
      say "lane $lane: FAILED $name ($((SECONDS - t0)) s, exit $rc)"
    fi
  done
}
pids=()
for ((l = 0; l < lanes; l++)); do
  [ -n "${plan[l]}" ] || continue
  # shellcheck disable=SC2086 # the plan is a list of binary names
  run_lane "$((l + 1))" ${plan[l]} &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

failed=()
for n in "${order[@]}"; do
  [ "$(cat "$logs/$n.rc" 2>/dev/null || echo missing)" = 0 ] || failed+=("$n")
done
if [ "${#failed[@]}" -gt 0 ]; then
  for n in "${failed[@]}"; do
    printf '\n\033[1m---- output of %s (last 400 lines of %s) ----\033[0m\n' "$n" "${logs#"$root"/}/$n.log"
    tail -n 400 "$logs/$n.log" || true
  done
  say "FAILED after $((SECONDS - started)) s: ${failed[*]}"
  exit 1
fi
say "all ${#order[@]} binaries passed in $((SECONDS - started)) s"
