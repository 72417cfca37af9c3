"""The demo inbox of `make run`: sends to the local SMTP catcher, has nothing to sync.

It stands in for a real provider so the whole send path (queue, throttle, privacy re-check,
tracking) runs on a bare machine; the caught mail is shown at /dev/mail/.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from mailboxes.providers.base import (
    ChangePage,
    FetchedMessage,
    Folder,
    MailProvider,
    OutgoingMessage,
    ProviderError,
    SendResult,
)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    email: str
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025


class DemoProvider(MailProvider):
    kind = "demo"
    settings_class = DemoSettings
    saves_sent_copy = True  # the catcher keeps every message; nothing to file

    def verify(self) -> None:
        self._smtp().quit()

    def list_folders(self) -> list[Folder]:
        return []

    def changes(self, folder: str, cursor: str, limit: int) -> ChangePage:
        return ChangePage(headers=[], cursor=cursor, more=False)

    def fetch_raw(self, folder: str, refs: list[str]) -> list[FetchedMessage]:
        return []

    def find_by_message_id(self, folder: str, message_id: str) -> str | None:
        return None

    def send(self, message: OutgoingMessage) -> SendResult:
        smtp = self._smtp()
        try:
            refused = smtp.sendmail(message.envelope_from, message.recipients, message.raw)
        except smtplib.SMTPException as exc:
            raise ProviderError(f"The demo mail catcher refused the email: {exc}") from exc
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
                "The demo mail catcher is not running (start the product with `make run`).",
                stage="tcp",
            ) from exc
