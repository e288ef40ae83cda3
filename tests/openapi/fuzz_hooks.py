"""Schemathesis hooks for tests/tests/openapi_fuzz.rs.

Requests generated from openapi/openapi.json name a random team in `team_id` or `X-Team-Id` in
about half the cases, and every one of them is answered 403 before the action runs (a documented
answer, but one that hides the action). In the generated (fuzzing) phase these hooks name the
fuzzed team instead, so that the actions themselves meet the generated fields; the coverage
phase still sends other teams' ids.
"""

import os

import schemathesis

TEAM = os.environ["MCP_EDGE_FUZZ_TEAM"]


@schemathesis.hook
def map_body(ctx, body):
    if isinstance(body, dict) and "team_id" in body:
        return {**body, "team_id": TEAM}
    return body


@schemathesis.hook
def map_headers(ctx, headers):
    if headers and "X-Team-Id" in headers:
        return {**headers, "X-Team-Id": TEAM}
    return headers
