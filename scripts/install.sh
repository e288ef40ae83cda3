#!/usr/bin/env bash
# Installs what mcp-edge needs to build, run and test, from the package registries only.
# Idempotent: each step checks first and says what it does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf 'install: %s\n' "$*"; }

WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock 2>/dev/null | sed -n 's/^version = "\(.*\)"/\1/p' | head -n1)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
WORKER_BUILD_VERSION=0.8.7

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rust target wasm32-unknown-unknown: present"
else
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

if [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
else
  say "installing wasm-bindgen-cli =$WASM_BINDGEN_VERSION (matches Cargo.lock; takes a few minutes)"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --locked \
    || cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
fi

if worker-build --version 2>/dev/null | grep -qw "$WORKER_BUILD_VERSION"; then
  say "worker-build $WORKER_BUILD_VERSION: present"
else
  say "installing worker-build =$WORKER_BUILD_VERSION (takes a few minutes)"
  cargo install worker-build --version "=$WORKER_BUILD_VERSION" --locked \
    || cargo install worker-build --version "=$WORKER_BUILD_VERSION" --force
fi

stamp=node_modules/.mcp-edge-installed
if [ -f "$stamp" ] && [ "$stamp" -nt package.json ] && [ "$stamp" -nt package-lock.json ]; then
  say "npm packages (wrangler, binaryen, node 22, MCP servers, conformance): present"
else
  # From the lockfile, exactly: `npm install` would rewrite package-lock.json.
  # package.json pins vite (MCP Inspector's dependency) to 8.3.0 with `overrides`: vite 8.4
  # names an optional package the registry here does not have, and `npm ci` then refuses the
  # lockfile as out of sync.
  say "installing npm packages from package-lock.json (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# The stdio bridge runs each test server as its own uid: the venv's interpreter must be one
# every user can run (Debian's /usr/bin/python3, not one under a private home such as pyenv's).
venv=.venv
venv_python=python3
[ -x /usr/bin/python3 ] && venv_python=/usr/bin/python3
world_runnable() { # every directory above the venv's interpreter is searchable by others
  local home d
  home=$(sed -n 's/^home = //p' "$venv/pyvenv.cfg" 2>/dev/null)
  [ -n "$home" ] || return 1
  d=$home
  while [ "$d" != / ] && [ -n "$d" ]; do
    [ $(( 0$(stat -c %a "$d") & 1 )) -eq 1 ] || return 1
    d=$(dirname "$d")
  done
}
if [ -x "$venv/bin/python" ] && [ "$venv/.installed" -nt tests/servers/requirements.txt ] && world_runnable; then
  say "python test servers' packages: present"
else
  say "creating $venv with $venv_python and installing tests/servers/requirements.txt"
  rm -rf "$venv"
  "$venv_python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/servers/requirements.txt
  touch "$venv/.installed"
fi

# The stdio bridge sandboxes every child with bubblewrap (PID/mount namespaces) and setpriv
# (util-linux) where the kernel allows it.
if command -v bwrap >/dev/null 2>&1; then
  say "bubblewrap: present"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing bubblewrap (Debian package) for the stdio bridge's sandbox"
  apt-get install -y --no-install-recommends bubblewrap >/dev/null
else
  say "bubblewrap missing: install Debian's bubblewrap package (the stdio bridge then falls back to uid separation)"
fi
# The TypeScript client's real-browser test (tests/tests/browser.rs) drives Debian's Chromium
# with playwright-core (npm); playwright never downloads a browser of its own here.
if command -v chromium >/dev/null 2>&1; then
  say "chromium: present"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing chromium (Debian package) for the browser test"
  apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
    apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null
  }
else
  say "chromium missing: install Debian's chromium package (tests/tests/browser.rs needs it)"
fi
say "done"
