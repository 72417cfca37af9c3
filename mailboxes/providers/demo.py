"""The demo inbox of `make run`: sends to the local SMTP catcher, and receives from it.

It stands in for a real provider so the whole send path (queue, throttle, privacy re-check,
tracking) runs on a bare machine; the caught mail is shown at /dev/mail/. Its INBOX is the
catcher's folder (`catcher_dir`, one .eml file a message, named so they sort by arrival): the
messages there addressed to the inbox (To or Cc), read as an IMAP server would give them, the
cursor the last file name seen. So mail one demo inbox sends another arrives there, and the
demo team inbox's customer emails (written there by `load_demo_inboxes`) reach its
conversations through sync like any inbox's.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from pathlib import Path

from mailboxes.providers.base import (
    ChangePage,
    FetchedMessage,
    Folder,
    MailProvider,
    OutgoingMessage,
    ProviderError,
    SendResult,
    Sentence,
    gettext_noop,
)
from mailboxes.providers.headers import normalize_message_id
from mailboxes.providers.imap_replies import header_from_fetch
from mailboxes.providers.imap_smtp import utf8_options

INBOX = "INBOX"


@dataclass(frozen=True, slots=True)
class DemoSettings:
    email: str
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    catcher_dir: str = ""  # where the catcher keeps what it caught; "": nothing to receive


class DemoProvider(MailProvider):
    kind = "demo"
    settings_class = DemoSettings
    saves_sent_copy = True  # the catcher keeps every message; nothing to file

    def verify(self) -> None:
        self._smtp().quit()

    def list_folders(self) -> list[Folder]:
        return [Folder(INBOX, "inbox")] if self.settings.catcher_dir else []

    def changes(self, folder: str, cursor: str, limit: int) -> ChangePage:
        names = self._names(after=cursor) if folder == INBOX else []
        headers, last = [], cursor
        for n, name in enumerate(names):
            raw = self._read(name)
            if raw is None:
                continue
            block = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\r\n"
            header = header_from_fetch(name, {b"BODY[HEADER]": block, b"RFC822.SIZE": len(raw)})
            last = name
            if self.settings.email.lower() in {
                a.lower() for a in header.to_addrs + header.cc_addrs
            }:
                headers.append(header)
            if len(headers) >= limit:
                return ChangePage(headers=headers, cursor=last, more=n + 1 < len(names))
        return ChangePage(headers=headers, cursor=last, more=False)

    def fetch_raw(self, folder: str, refs: list[str]) -> list[FetchedMessage]:
        found = [(ref, self._read(ref)) for ref in refs if folder == INBOX]
        return [FetchedMessage(ref=ref, raw=raw) for ref, raw in found if raw is not None]

    def find_by_message_id(self, folder: str, message_id: str) -> str | None:
        wanted = normalize_message_id(message_id)
        page = self.changes(folder, "", 1_000_000)
        return next((h.ref for h in page.headers if h.message_id == wanted), None)

    def _names(self, after: str) -> list[str]:
        folder = Path(self.settings.catcher_dir)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.glob("*.eml") if p.name > after)

    def _read(self, name: str) -> bytes | None:
        # Only a file of the folder itself: a ref is a bare name the listing gave.
        if "/" in name or "\\" in name or not name.endswith(".eml"):
            return None
        try:
            return (Path(self.settings.catcher_dir) / name).read_bytes()
        except OSError:
            return None

    def send(self, message: OutgoingMessage) -> SendResult:
        smtp = self._smtp()
        try:
            refused = smtp.sendmail(
                message.envelope_from,
                message.recipients,
                message.raw,
                mail_options=utf8_options(message),
            )
        except smtplib.SMTPException as exc:
            raise ProviderError(
                Sentence(
                    gettext_noop("The demo mail catcher refused the email: %(error)s"),
                    error=str(exc),
                )
            ) from exc
        finally:
            smtp.quit()
        accepted = [r for r in message.recipients if r not in refused]
        return SendResult(provider_id=message.message_id, accepted_recipients=accepted)

    def close(self) -> None:
        pass

    def _smtp(self) -> smtplib.SMTP:
        try:
            return smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10)
        except OSError as exc:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "The demo mail catcher is not running (start the product with `make run`)."
                    )
                ),
                stage="tcp",
            ) from exc
