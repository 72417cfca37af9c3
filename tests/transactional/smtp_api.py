"""Helpers of the SMTP API server's tests: the server on free loopback ports with a
self-signed certificate, the client's TLS context that trusts it, and a message to send."""

from __future__ import annotations

import errno
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from tests.integration.servers import free_port
from transactional.smtp import server, tls


@dataclass
class ApiServer:
    host: str
    port: int  # STARTTLS
    tls_port: int  # implicit TLS
    client_tls: ssl.SSLContext
    controllers: list

    def stop(self) -> None:
        server.stop(self.controllers)


def start_api_server(directory: Path) -> ApiServer:
    cert, key = tls.self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    for attempt in range(5):
        port, tls_port = free_port(), free_port()
        try:
            controllers = server.start("127.0.0.1", port, tls_port, context)
            break
        except OSError as exc:
            # Another process (a second test run on the machine) took a port between
            # free_port() and the bind: two other ports.
            if exc.errno != errno.EADDRINUSE or attempt == 4:
                raise
    return ApiServer(
        "127.0.0.1", port, tls_port, ssl.create_default_context(cafile=cert), controllers
    )


def message(
    to="ada@client.test",
    cc=None,
    subject="Your receipt",
    html="<p>Thanks! <a href='https://shop.test/orders/1'>Your order</a></p>",
    sender="receipts@shop.test",
) -> EmailMessage:
    mime = EmailMessage()
    mime["From"] = f"Shop <{sender}>"
    mime["To"] = to
    if cc:
        mime["Cc"] = cc
    mime["Subject"] = subject
    mime["Message-ID"] = "<client-own-id@shop.test>"
    mime.set_content("Thanks! Your order: https://shop.test/orders/1")
    if html:
        mime.add_alternative(html, subtype="html")
    return mime
