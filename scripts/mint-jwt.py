#!/usr/bin/env python3
"""Mints an HS256 JWT shaped like Supabase's, for local use. The gateway takes only the user
(`sub`) from it: team and role come from the team_members table (scripts/dev.sh seeds the demo
users). TEAM_ID and ROLE land in user_metadata, as a user could write them, and are ignored.

usage: mint-jwt.py SECRET USER_ID TEAM_ID ROLE [TTL_SECONDS]
"""
import base64, hashlib, hmac, json, sys, time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret: str, user: str, team: str, role: str, ttl: int) -> str:
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": user, "iat": now, "exp": now + ttl, "role": "authenticated",
              "user_metadata": {"team_id": team, "role": role}}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    ttl = int(sys.argv[5]) if len(sys.argv) == 6 else 7 * 24 * 3600
    print(mint(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], ttl))
