// The client's types against openapi/openapi.json: the generated file is current, and the
// answer map covers every action with the document's own `x-answer`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ANSWER_SCHEMAS } from "../src/types.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const document = JSON.parse(readFileSync(`${here}../../../openapi/openapi.json`, "utf8"));

test("src/openapi.d.ts is what openapi-typescript generates from the document", () => {
  execFileSync(process.execPath, [`${here}../generate.mjs`, "--check"], { stdio: "pipe" });
});

test("every action's answer type is the document's x-answer, and no action is missing", () => {
  const schemas = document.components.schemas;
  const fromDocument: Record<string, string> = {};
  for (const { $ref } of schemas.ActionRequest.oneOf) {
    const request = schemas[$ref.split("/").pop()];
    fromDocument[request.properties.action.const] = request["x-answer"].split("/").pop();
  }
  assert.deepEqual({ ...ANSWER_SCHEMAS }, fromDocument);
});

test("the error codes the client knows are the document's", async () => {
  const { isErrorBody } = await import("../src/errors.ts");
  for (const code of document.components.schemas.ErrorCode.enum) {
    assert.ok(isErrorBody({ status: "error", code, message: "m", request_id: "r" }), code);
  }
  assert.ok(!isErrorBody({ status: "error", code: "no_such_code", message: "m", request_id: "r" }));
});
