"""A page's raw messages, fetched in chunks on sync's helper thread and read as they come.

`write_page` writes the message rows with one COPY whose `raw` column is the page's raw
bytes. Fetched whole before the COPY, the sync thread waited for the last message while
the mail server sent them, then PostgreSQL stored them while the server sat idle. Read
through a `RawStream`, the COPY sends each row as soon as its chunk has arrived: the server
sends the next chunk while the database stores the last one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

# Messages per fetch_raw call: one FETCH command on IMAP (its adapter's batch).
CHUNK = 100


class RawStream:
    """The raw bytes of `refs`, in chunks of CHUNK, as the helper thread fetches them.

    The helper runs `fetch(provider, folder)`; the sync thread reads `column()` (the COPY's
    column, in the order of `refs`, waiting for each chunk) and then `fetched()`, the whole
    map. A message the server no longer has reads as None, as `fetch_raws` leaves it out. A
    failed fetch raises its error in the reader too.
    """

    def __init__(self, refs: list[str]) -> None:
        self.refs = list(refs)
        self._position = {ref: i for i, ref in enumerate(self.refs)}
        self._raws: dict[str, bytes] = {}
        self._done = 0  # refs[:_done] are fetched
        self._error: BaseException | None = None
        self._ready = threading.Condition()

    def fetch(self, provider, folder: str) -> None:
        try:
            for start in range(0, len(self.refs), CHUNK):
                chunk = self.refs[start : start + CHUNK]
                got = {m.ref: m.raw for m in provider.fetch_raw(folder, chunk)}
                with self._ready:
                    self._raws.update(got)
                    self._done = start + len(chunk)
                    self._ready.notify_all()
        except BaseException as exc:
            with self._ready:
                self._error = exc
                self._ready.notify_all()
            raise

    def get(self, ref: str) -> bytes | None:
        """The raw bytes of `ref` (one of `refs`), once its chunk has arrived."""
        position = self._position[ref]
        with self._ready:
            while self._done <= position and self._error is None:
                self._ready.wait()
            if self._done <= position:
                raise self._error
            return self._raws.get(ref)

    def column(self, refs: list[str]) -> RawColumn:
        return RawColumn(self, refs)

    def fetched(self) -> dict[str, bytes]:
        """Every raw message fetched, by ref, once all have arrived."""
        if self.refs:
            self.get(self.refs[-1])
        return self._raws


class RawColumn(Sequence):
    """The raw bytes of `refs` in order, each read when asked for (a COPY's column)."""

    def __init__(self, stream: RawStream, refs: list[str]) -> None:
        self._stream = stream
        self._refs = refs

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._stream.get(ref) for ref in self._refs[index]]
        return self._stream.get(self._refs[index])

    def __iter__(self) -> Iterator[bytes | None]:
        return (self._stream.get(ref) for ref in self._refs)
