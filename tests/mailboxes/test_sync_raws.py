"""sync/raws.RawStream: a page's raw messages read in order while another thread fetches them.

The provider here is a stand-in for an adapter's `fetch_raw` (the interface sync calls), which
hands out chunks only when the test lets it, so the reader is seen waiting for each one.
sync_folder's use of it against Dovecot is in tests/integration/test_sync_imap.py and
test_sync_faults.py.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mailboxes.providers.base import FetchedMessage, ProviderError
from mailboxes.sync import raws
from mailboxes.sync.raws import RawStream


class GatedProvider:
    """Answers fetch_raw one call at a time, when `release` is set; never has `gone`."""

    def __init__(self, gone=(), fail_at: int | None = None) -> None:
        self.gone = set(gone)
        self.fail_at = fail_at
        self.calls: list[list[str]] = []
        self.release = threading.Semaphore(0)

    def fetch_raw(self, folder, refs):
        self.release.acquire()
        self.calls.append(list(refs))
        if self.fail_at is not None and len(self.calls) > self.fail_at:
            raise ProviderError("The connection dropped.", stage="tcp")
        return [FetchedMessage(ref=r, raw=f"raw {r}".encode()) for r in refs if r not in self.gone]


def test_rows_are_read_in_order_as_their_chunks_arrive():
    refs = [str(n) for n in range(1, 2 * raws.CHUNK + 11)]
    provider = GatedProvider(gone={"5"})
    stream = RawStream(refs)
    with ThreadPoolExecutor(1) as helper:
        helper.submit(stream.fetch, provider, "INBOX")
        column = stream.column(refs)
        assert len(column) == len(refs)
        provider.release.release()  # the first chunk only
        assert column[0] == b"raw 1"
        assert column[raws.CHUNK - 1] == f"raw {raws.CHUNK}".encode()
        assert column[4] is None  # no longer on the server
        waiting = threading.Thread(target=lambda: column[raws.CHUNK])
        waiting.start()
        waiting.join(0.2)
        assert waiting.is_alive()  # the second chunk has not come
        provider.release.release(2)
        waiting.join(5)
        assert not waiting.is_alive()
        assert list(column) == [None if r == "5" else f"raw {r}".encode() for r in refs]
    assert [len(c) for c in provider.calls] == [raws.CHUNK, raws.CHUNK, 10]
    assert stream.fetched() == {r: f"raw {r}".encode() for r in refs if r != "5"}


def test_a_failed_fetch_is_raised_where_the_rows_are_read():
    refs = [str(n) for n in range(1, raws.CHUNK + 6)]
    provider = GatedProvider(fail_at=1)
    stream = RawStream(refs)
    with ThreadPoolExecutor(1) as helper:
        done = helper.submit(stream.fetch, provider, "INBOX")
        provider.release.release(2)
        column = stream.column(refs)
        assert column[0] == b"raw 1"  # the first chunk came
        with pytest.raises(ProviderError):
            list(column)
        with pytest.raises(ProviderError):
            done.result()


def test_an_empty_page_needs_no_fetch():
    stream = RawStream([])
    assert list(stream.column([])) == []
    assert stream.fetched() == {}
