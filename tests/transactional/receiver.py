"""A webhook receiver for the tests: an HTTP server on loopback that answers each POST with
the next code of its script (then 200), records what it got, and checks signatures the way
the Standard Webhooks spec says a receiver must, written here apart from the product's
signing code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict:
        return json.loads(self.body)


def verify(secret: str, received: Received, tolerance: int = 300, now: float | None = None):
    """Standard Webhooks' check: the HMAC-SHA256 (key: the base64 after `whsec_`) of
    "{id}.{timestamp}.{body}" is one of the space-separated `v1,` signatures, and the
    timestamp is recent. Raises AssertionError otherwise."""
    import time

    timestamp = int(received.headers["webhook-timestamp"])
    assert abs((now or time.time()) - timestamp) <= tolerance, "timestamp too old or new"
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    signed = received.id.encode() + b"." + str(timestamp).encode() + b"." + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in received.headers["webhook-signature"].split()]
    assert any(hmac.compare_digest(expected, s) for s in offered), "bad signature"


class WebhookReceiver:
    def __init__(self, script=()):
        self.script = list(script)  # status codes (or (code, headers)) answered first
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                answer = receiver.script.pop(0) if receiver.script else 200
                code, extra = answer if isinstance(answer, tuple) else (answer, {})
                reply = b'{"ok": true}' if code < 300 else b"upstream trouble"
                self.send_response(code)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def unique(self) -> dict[str, Received]:
        """What a receiver keeps after de-duplicating on webhook-id: one per event."""
        return {r.id: r for r in self.received}
