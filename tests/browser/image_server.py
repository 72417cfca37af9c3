"""A local HTTP server standing in for the hosts an email's remote images live on."""

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class ImageServer:
    """Serves /pixel.gif and /logo.png on 127.0.0.1 (the live server is "localhost"), and
    keeps (path, Referer) of each request."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append((self.path, self.headers.get("Referer")))
                body, ctype = (GIF, "image/gif") if "pixel" in self.path else (PNG, "image/png")
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [path.split("?")[0] for path, _ in self.hits]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
