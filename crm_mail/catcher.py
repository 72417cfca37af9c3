"""A local SMTP catcher for `make run`: the demo inboxes send here, and /dev/mail/ shows it.

Built on aiosmtpd (the same server the tests use as a sink); each message is written as an
.eml file, so nothing leaves the machine while people click through the demo.
"""

import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class SaveToFolder:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 OK caught"


def start_catcher(folder: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(SaveToFolder(folder), hostname=host, port=port)
    controller.start()
    return controller


def caught(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml"), reverse=True) if folder.exists() else []
