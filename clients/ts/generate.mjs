// Generates src/openapi.d.ts from openapi/openapi.json with openapi-typescript (pinned in the
// root package.json). `--check` writes nothing and exits 1 when the committed file is stale.
//
// One adjustment before generating: an `anyOf` whose branches only list `required` fields
// (e.g. create_server: `config` or `connector`) constrains which fields are present, not their
// types; openapi-typescript renders such branches as `unknown`, which would erase the whole
// request type, so they are dropped here (the server still enforces them).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const here = fileURLToPath(new URL(".", import.meta.url));
const documentPath = `${here}../../openapi/openapi.json`;
const outPath = `${here}src/openapi.d.ts`;

function dropRequiredOnlyAnyOf(node) {
  if (Array.isArray(node)) return node.map(dropRequiredOnlyAnyOf);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    const requiredOnly =
      key === "anyOf" &&
      Array.isArray(value) &&
      value.every((b) => Object.keys(b).length === 1 && Array.isArray(b.required));
    if (!requiredOnly) out[key] = dropRequiredOnlyAnyOf(value);
  }
  return out;
}

const document = dropRequiredOnlyAnyOf(JSON.parse(readFileSync(documentPath, "utf8")));
const header =
  "// Generated from openapi/openapi.json by clients/ts/generate.mjs (openapi-typescript).\n" +
  "// Do not edit: run `node clients/ts/generate.mjs` after changing the document.\n\n";
const text = header + astToString(await openapiTS(document));

if (process.argv.includes("--check")) {
  const current = readFileSync(outPath, "utf8");
  if (current !== text) {
    console.error(`${outPath} is stale: run node clients/ts/generate.mjs`);
    process.exit(1);
  }
  console.log("clients/ts/src/openapi.d.ts matches openapi/openapi.json");
} else {
  writeFileSync(outPath, text);
  console.log(`wrote ${outPath}`);
}
