"""A tiny HTTP proxy that adds `Authorization: Bearer <token>` to every request.

The conformance suite has no option for request headers; the test puts this in front of the
gateway so the suite's requests carry a member's token. Everything else (method, path, body,
headers such as Origin and MCP-Protocol-Version) passes through unchanged, and so does the
answer (status, headers, body; an event stream as it comes).

    .venv/bin/python tests/servers/bearer_proxy.py --port 8950 --target http://127.0.0.1:8787 --token JWT
"""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "authorization", "accept-encoding"}


def handler(target: str, token: str) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(target + self.path, data=body, method=self.command)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    request.add_header(name, value)
            request.add_header("Authorization", f"Bearer {token}")
            try:
                response = urllib.request.urlopen(request, timeout=120)
            except urllib.error.HTTPError as err:
                response = err
            if (response.headers.get("content-type") or "").startswith("text/event-stream"):
                self.relay_stream(response)
                return
            payload = response.read()
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def relay_stream(self, response) -> None:  # type: ignore[no-untyped-def]
            """An event stream is passed on as it comes (a server→client request in it must reach
            the client before the call can end); the closed connection ends it."""
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            while chunk := response.read1(65536):
                self.wfile.write(chunk)
                self.wfile.flush()

        do_GET = do_POST = do_DELETE = forward

        def log_message(self, *args: object) -> None:
            pass

    return Proxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.target.rstrip("/"), args.token)).serve_forever()


if __name__ == "__main__":
    main()
