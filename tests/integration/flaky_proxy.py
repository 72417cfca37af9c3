"""A TCP proxy that can cut a connection after N bytes from the server (a real dropped link),
or stall it there (a client stuck mid-read, for as long as a test needs); it keeps what
clients sent (`sent`), to count a protocol's commands."""

from __future__ import annotations

import socket
import threading


class CuttingProxy:
    """Relay loopback TCP to `upstream`; with `cut_after` set, drop each connection once the
    server has sent that many bytes through it; with `stall_after`, stop relaying the server's
    bytes there (and set `stalled`) until the proxy is closed. Both apply to connections
    opened after they are set."""

    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.cut_after: int | None = None
        self.stall_after: int | None = None
        self.cuts = 0
        self.sent = bytearray()  # every byte clients sent, in order
        self.stalled = threading.Event()
        self._release = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._open += [client, server]
            limits = (self.cut_after, self.stall_after)
            threading.Thread(
                target=self._pipe, args=(client, server, None, None, True), daemon=True
            ).start()
            threading.Thread(target=self._pipe, args=(server, client, *limits), daemon=True).start()

    def _pipe(
        self,
        src: socket.socket,
        dst: socket.socket,
        limit: int | None = None,
        stall: int | None = None,
        record: bool = False,
    ):
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    self.sent += data
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: max(0, limit - sent)])
                    self.cuts += 1
                    break
                if stall is not None and sent + len(data) >= stall:
                    dst.sendall(data[: max(0, stall - sent)])
                    self.stalled.set()
                    self._release.wait()
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut_all(self):
        """Drop every open connection now, as a server closing idle sessions does."""
        for sock in self._open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._open.clear()

    def close(self):
        self._closed = True
        self._release.set()
        self._listener.close()
