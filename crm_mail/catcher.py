"""A local SMTP catcher for `make run`: the demo inboxes send here, and /dev/mail/ shows it.

Built on aiosmtpd (the same server the tests use as a sink); each message is written as an
.eml file, so nothing leaves the machine while people click through the demo.
"""

import logging
from pathlib import Path

from aiosmtpd.controller import Controller

from mailboxes.demo import answer, caught_name

log = logging.getLogger(__name__)


class SaveToFolder:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        content = envelope.original_content or envelope.content
        self._save(content)
        # The demo's customers answer some of the demo's emails (mailboxes/demo.py); whatever
        # a caught email holds, it is caught all the same.
        try:
            reply = answer(content)
        except Exception:
            log.exception("the catcher could not read a caught email for the demo's answers")
            reply = None
        if reply is not None:
            self._save(reply)
        return "250 OK caught"

    def _save(self, content: bytes) -> None:
        # Named by the time caught, so names sort by arrival (the demo inboxes read them so).
        (self.folder / caught_name()).write_bytes(content)


def start_catcher(folder: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    # SMTPUTF8: a contact's address may have accents (an import takes them; so do the real
    # providers, mailboxes/providers/imap_smtp.py).
    controller = Controller(SaveToFolder(folder), hostname=host, port=port, enable_SMTPUTF8=True)
    controller.start()
    return controller


def caught(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml"), reverse=True) if folder.exists() else []
