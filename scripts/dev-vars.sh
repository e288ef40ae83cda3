#!/usr/bin/env bash
# Writes the local-only secrets and settings wrangler dev reads from .dev.vars files, once:
# a random JWT_SECRET for the gateway, and ALLOW_PRIVATE_UPSTREAMS=true for the workers that
# call MCP servers (local demo and test servers listen on loopback). Never used in deploys.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$root/.dev.vars" ]; then
  echo "dev-vars: writing .dev.vars with a fresh random JWT_SECRET"
  printf 'JWT_SECRET=%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$root/.dev.vars"
fi
for w in call_tool sync_tools admin; do
  f="$root/functions/$w/.dev.vars"
  if [ ! -f "$f" ]; then
    echo "dev-vars: writing functions/$w/.dev.vars (ALLOW_PRIVATE_UPSTREAMS=true)"
    printf 'ALLOW_PRIVATE_UPSTREAMS=true\n' > "$f"
  fi
done
