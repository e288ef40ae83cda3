#!/usr/bin/env bash
# Writes the local-only secrets and settings wrangler dev reads from .dev.vars files, once:
# a random JWT_SECRET for the gateway, and ALLOW_PRIVATE_UPSTREAMS=true for the workers that
# call MCP servers (local demo and test servers listen on loopback). Never used in deploys.
#
# The workers that seal or open server credentials (admin, call_tool, sync_tools) also get one
# shared credential key ring: two random AES-256 keys, `local2` (writes) and `local1` (only
# decrypts), so local runs exercise key rotation. call_tool gets a CONFIRMATION_SECRET. Values
# already present are kept; missing ones are appended (older .dev.vars files lack them).
#
# The same three reach stdio servers through a local stdio bridge process (scripts/dev.sh and
# the stdio tests start it with these values): one shared random BRIDGE_TOKEN, STDIO_BRIDGE_URL
# (http://127.0.0.1:$MCP_EDGE_BRIDGE_PORT, default 8790) and STDIO_ALLOWED_COMMANDS, which is
# also the bridge's BRIDGE_ALLOWED_COMMANDS: the executables of the connector catalogue's
# `runs_here` entries (config/connectors: npm ones in node_modules/.bin, PyPI ones in .venv/bin,
# both on the bridge's PATH) and the repo venv's python (tests/servers, run as a free-form
# command by the tests that enable it). STDIO_ALLOWED_COMMANDS is rewritten when it differs
# (it is derived, never edited by hand). CONNECTOR_LAUNCH=installed: connectors run the
# installed packages, not `npx -y`/`uvx`. ALLOW_FREEFORM_STDIO_COMMANDS=false: as in production,
# admins pick connectors (a test stack may turn it on for its own Python servers).
#
# Every worker (the gateway's .dev.vars and each functions/<w>/.dev.vars) gets the same random
# INTERNAL_SIGNING_KEY, the HMAC key of the gateway's signed envelopes: the one already in the
# gateway's file (else in any action worker's) is kept and copied where it is missing or differs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
random_key() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }

if [ ! -f "$root/.dev.vars" ]; then
  echo "dev-vars: writing .dev.vars with a fresh random JWT_SECRET"
  printf 'JWT_SECRET=%s\n' "$(random_hex)" > "$root/.dev.vars"
fi

# The value of NAME in the first of FILES that sets it to something matching PATTERN (a grep
# regex for the value; default: anything); empty when none does.
first_value() { # name pattern file...
  local name=$1 pattern=${2:-.*} f
  shift 2
  for f in "$@"; do
    if [ -f "$f" ] && grep -q "^$name=$pattern" "$f"; then
      grep -m1 "^$name=" "$f" | cut -d= -f2-
      return
    fi
  done
}

key_workers=(call_tool sync_tools admin)
key_files=()
for w in "${key_workers[@]}"; do key_files+=("$root/functions/$w/.dev.vars"); done
ring=$(first_value CREDENTIAL_KEYS '' "${key_files[@]}")
bridge_token=$(first_value BRIDGE_TOKEN '' "${key_files[@]}")
if [ -z "$bridge_token" ]; then
  bridge_token=$(random_hex)
fi
stdio_allowed="mcp-server-filesystem,mcp-server-everything,mcp-server-memory,mcp-server-fetch,mcp-server-git,mcp-server-time,$root/.venv/bin/python"
if [ -z "$ring" ]; then
  ring="local2:$(random_key),local1:$(random_key)"
fi

append_missing() { # file name value
  if ! grep -q "^$2=" "$1" 2>/dev/null; then
    echo "dev-vars: adding $2 to ${1#"$root"/}"
    printf '%s=%s\n' "$2" "$3" >> "$1"
  fi
}

set_derived() { # file name value: like append_missing, and replaces a different value
  if grep -q "^$2=" "$1" 2>/dev/null && [ "$(grep -m1 "^$2=" "$1" | cut -d= -f2-)" != "$3" ]; then
    echo "dev-vars: updating $2 in ${1#"$root"/}"
    grep -v "^$2=" "$1" > "$1.tmp" && mv "$1.tmp" "$1"
  fi
  append_missing "$1" "$2" "$3"
}

for f in "${key_files[@]}"; do
  w=$(basename "$(dirname "$f")")
  if [ ! -f "$f" ]; then
    echo "dev-vars: writing functions/$w/.dev.vars (ALLOW_PRIVATE_UPSTREAMS=true)"
    printf 'ALLOW_PRIVATE_UPSTREAMS=true\n' > "$f"
  fi
  append_missing "$f" CREDENTIAL_KEYS "$ring"
  append_missing "$f" CREDENTIAL_KEY_ID local2
  append_missing "$f" BRIDGE_TOKEN "$bridge_token"
  append_missing "$f" STDIO_BRIDGE_URL "http://127.0.0.1:${MCP_EDGE_BRIDGE_PORT:-8790}"
  set_derived "$f" STDIO_ALLOWED_COMMANDS "$stdio_allowed"
  append_missing "$f" CONNECTOR_LAUNCH installed
  append_missing "$f" ALLOW_FREEFORM_STDIO_COMMANDS false
done
append_missing "$root/functions/call_tool/.dev.vars" CONFIRMATION_SECRET "$(random_hex)"
# Background executions a team runs at once (also in call_tool's [vars]; tests lower it).
append_missing "$root/functions/call_tool/.dev.vars" MAX_RUNNING_EXECUTIONS 10

# One INTERNAL_SIGNING_KEY on every worker (the signed hop: shared/src/internal.rs).
action_workers=(list_servers list_tools call_tool sync_tools admin)
signing_files=("$root/.dev.vars")
for w in "${action_workers[@]}"; do signing_files+=("$root/functions/$w/.dev.vars"); done
signing_key=$(first_value INTERNAL_SIGNING_KEY '.\{32,\}' "${signing_files[@]}")
if [ -z "$signing_key" ]; then
  signing_key=$(random_hex)
fi
for f in "${signing_files[@]}"; do
  if [ -f "$f" ] && grep -q '^INTERNAL_SIGNING_KEY=' "$f" \
      && [ "$(grep -m1 '^INTERNAL_SIGNING_KEY=' "$f" | cut -d= -f2-)" != "$signing_key" ]; then
    echo "dev-vars: replacing the INTERNAL_SIGNING_KEY of ${f#"$root"/} with the shared one"
    grep -v '^INTERNAL_SIGNING_KEY=' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
  fi
  append_missing "$f" INTERNAL_SIGNING_KEY "$signing_key"
done

# Locally the gateway answers Server-Timing (off as checked in: wrangler.toml, SERVER_TIMING).
append_missing "$root/.dev.vars" SERVER_TIMING true

# The secrets above are for the workers only: the stdio bridge's children (other uids) must not
# read them, nor the local state (D1, KV) the workers keep in .dev-state/.
for f in "$root"/.dev.vars "$root"/functions/*/.dev.vars; do
  [ -f "$f" ] && chmod 600 "$f"
done
mkdir -p "$root/.dev-state" && chmod 700 "$root/.dev-state"
