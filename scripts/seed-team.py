#!/usr/bin/env python3
"""Applies a team's MCP servers from a checked-in config file, through the public API.

usage: seed-team.py CONFIG --api URL [--token TOKEN] [--d1 local|remote|none] [--persist-to DIR]
                    [--owner USER_ID]

Idempotent: each server is looked up by name (get_server) and created or updated (a URL:
server_type + config; a catalogue connector: connector + parameters); its
credential is set from environment variables (never from the file: `from_env` maps credential
fields to variable names, `fields` holds non-secret ones like header_name), `"credential": null`
deletes it, and no key leaves it alone; then the server is synced (unless "sync": false) and
each listed tool's policy applied (update_tool). Servers not in the file are left alone.

The admin token: --token, else $MCP_EDGE_ADMIN_TOKEN, else one minted for the file's team from
$JWT_SECRET (HS256 deployments; locally: JWT_SECRET from .dev.vars) for --owner (default
"seed-team"). With --d1 local|remote the team row is created or updated first, and --owner is
made an owner of it in team_members (wrangler d1 execute; --persist-to for a local state dir):
membership comes from that table, never from the token. This is how operators create teams
when self-service create_team is off (TEAM_SELF_SERVICE=false).
Only names, ids and outcomes are printed; credential values never are.
See config/team.example.json and the README ("Admin, credentials and deploying").
"""
import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
POLICY_FIELDS = {"is_enabled", "requires_confirmation", "timeout_seconds", "cacheable"}


def fail(message):
    sys.exit(f"seed-team: {message}")


class Api:
    def __init__(self, url, token):
        self.url, self.token = url.rstrip("/") + "/", token

    def call(self, body, ok=(200, 201)):
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        answer = json.loads(text or b"{}")
        if status not in ok:
            fail(f"{body['action']} answered {status} {answer.get('code')}: {answer.get('message')}")
        return status, answer


def sql_text(value):
    return "'" + str(value).replace("'", "''") + "'"


def upsert_team(team, where, persist_to, owner):
    sql = (
        "INSERT INTO teams (id, name, tier) VALUES ({}, {}, {}) ON CONFLICT (id) DO UPDATE SET "
        "name = excluded.name, tier = excluded.tier, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'); "
        "INSERT INTO team_members (team_id, user_id, role, added_by) VALUES ({}, {}, 'owner', 'seed-team') "
        "ON CONFLICT (team_id, user_id) DO UPDATE SET role = 'owner'"
    ).format(sql_text(team["id"]), sql_text(team.get("name", team["id"])), sql_text(team.get("tier", "free")),
             sql_text(team["id"]), sql_text(owner))
    cmd = ["wrangler", "d1", "execute", "DB", f"--{where}", "-c", "wrangler.toml", "--yes", "--command", sql]
    if persist_to:
        cmd += ["--persist-to", persist_to]
    print(f"seed-team: team '{team['id']}' with owner '{owner}' ({where} D1)")
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def admin_token(args, team_id):
    token = args.token or os.environ.get("MCP_EDGE_ADMIN_TOKEN")
    if token:
        return token
    secret = os.environ.get("JWT_SECRET")
    if not secret:
        fail("no admin token: pass --token, or set MCP_EDGE_ADMIN_TOKEN or JWT_SECRET")
    mint = __import__("mint-jwt")
    return mint.mint(secret, args.owner, team_id, "admin", 3600)


def credential_body(server_id, spec):
    fields = dict(spec.get("fields", {}))
    for field, var in spec.get("from_env", {}).items():
        if var not in os.environ:
            fail(f"credential field '{field}' needs environment variable {var}, which is not set")
        fields[field] = os.environ[var]
    return {"action": "set_credential", "server_id": server_id,
            "credential_type": spec["credential_type"], "credential": fields}


def apply_server(api, spec):
    name = spec["name"]
    status, found = api.call({"action": "get_server", "name": name}, ok=(200, 404))
    # A server is a URL (`server_type` + `config`) or a catalogue connector (`connector` +
    # `parameters`, config/connectors); `config` for stdio is for operators only.
    if "connector" in spec:
        target = {"connector": spec["connector"], "parameters": spec.get("parameters", {})}
    else:
        target = {"config": spec["config"]}
    if status == 404:
        body = {"action": "create_server", "name": name, **target}
        if "connector" not in spec:
            body["server_type"] = spec.get("server_type", "http")
        if spec.get("description") is not None:
            body["description"] = spec["description"]
        server = api.call(body)[1]["server"]
        print(f"seed-team: created server '{name}' ({server['id']})")
        if spec.get("is_active") is False:
            api.call({"action": "update_server", "server_id": server["id"], "is_active": False})
    else:
        server = found["server"]
        body = {"action": "update_server", "server_id": server["id"], **target}
        for key in ("description", "is_active"):
            if key in spec:
                body[key] = spec[key]
        api.call(body)
        print(f"seed-team: updated server '{name}' ({server['id']})")
    server_id = server["id"]

    if "credential" in spec:
        if spec["credential"] is None:
            deleted = api.call({"action": "delete_credential", "server_id": server_id})[1]["deleted"]
            print(f"seed-team:   credential deleted" if deleted else "seed-team:   no credential to delete")
        else:
            set_ = api.call(credential_body(server_id, spec["credential"]))[1]["credential"]
            print(f"seed-team:   credential set ({set_['credential_type']}, key {set_['key_id']})")

    if spec.get("sync", True) and spec.get("is_active", True):
        status, synced = api.call({"action": "sync_tools", "server_id": server_id}, ok=(200, 409, 502, 504))
        if status == 200:
            print(f"seed-team:   synced {synced['tools_synced']} tools ({synced['tools_removed']} removed)")
        else:
            print(f"seed-team:   sync failed ({synced.get('code')}): {synced.get('message')}; tool policies skipped")
            return False
    for tool, policy in spec.get("tools", {}).items():
        unknown = set(policy) - POLICY_FIELDS
        if unknown:
            fail(f"tool '{tool}' of server '{name}': unknown policy fields {sorted(unknown)}")
        api.call({"action": "update_tool", "server_id": server_id, "tool_name": tool, **policy})
        print(f"seed-team:   tool '{tool}': {json.dumps(policy, sort_keys=True)}")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--api", required=True, help="the gateway URL, e.g. http://127.0.0.1:8787")
    parser.add_argument("--token")
    parser.add_argument("--d1", choices=["local", "remote", "none"], default="none")
    parser.add_argument("--persist-to")
    parser.add_argument("--owner", default="seed-team", help="user id made the team's owner (with --d1)")
    args = parser.parse_args()

    config = json.loads(Path(args.config).read_text())
    team = config.get("team") or fail("the config needs a team {id, name, tier}")
    if args.d1 != "none":
        upsert_team(team, args.d1, args.persist_to, args.owner)
    api = Api(args.api, admin_token(args, team["id"]))
    results = [apply_server(api, spec) for spec in config.get("servers", [])]
    failed = results.count(False)
    print(f"seed-team: {len(results)} servers applied, {failed} could not be synced")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
