"""Fake on-premises Exchange: EWS SOAP and SOAP Autodiscover, as exchangelib 5.6 uses them.

One HTTPS server answers both endpoints, like a real Client Access server:

- `POST /EWS/Exchange.asmx`: the unauthenticated auth-type probe (401 with `WWW-Authenticate:
  Basic`), ConvertId (exchangelib's version probe), GetFolder on distinguished folders,
  FindItem with an InternetMessageId restriction, SyncFolderItems (paged, with opaque sync
  states, Create/Update/Delete changes and IncludesLastItemInRange), GetItem (MimeContent
  and header fields) and CreateItem with MimeContent (SendAndSaveCopy files a copy in Sent
  Items);
- `POST /autodiscover/autodiscover.svc`: GetUserSettings answering ExternalEwsUrl and
  EwsSupportedSchemas, or an autodiscover ErrorCode.

Faults are injected per operation: SOAP ErrorServerBusy with BackOffMilliseconds, an HTTP
status (401, 503), or a per-message ResponseCode. Envelopes are the ones exchangelib sends
and accepts (Microsoft's EWS SOAP reference). Mailboxes live in memory, belong to one test
and are fed raw RFC 822 bytes; the header fields EWS returns are parsed from them with the
stdlib email package.

exchangelib finds autodiscover hosts with dnspython on port 443, so tests that autodiscover
also need `use_fake_dns()` (exchangelib's resolver asks a `FakeDnsServer`) and
`route_hosts()` (urllib3 connects those names to the fake's port).
"""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import email.utils
import gzip
import itertools
import json
import re
import secrets
import socket
import ssl
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
A_NS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

EWS_PATH = "/ews/exchange.asmx"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"
# Exchange 2016 CU23. Its Version attribute is one exchangelib does not accept as a request
# version, like real servers send; exchangelib then keeps the version it asked with.
SERVER_VERSION = (
    '<t:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" '
    'MinorBuildNumber="6" Version="V2017_07_11"/>'
)
SUPPORTED_SCHEMAS = "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, " + (
    "Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016"
)
REALM = "mail.example.test"
# EWS caps MaxChangesReturned at 512.
MAX_SYNC_CHANGES = 512
FOLDER_NAMES = {
    "root": "",
    "msgfolderroot": "Top of Information Store",
    "inbox": "Inbox",
    "sentitems": "Sent Items",
}
_ids = itertools.count(1)


# -- messages and mailboxes ----------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """One mailbox as EWS returns it: display name and SMTP address."""

    name: str
    email: str


@dataclass
class FakeItem:
    """One message in a folder: its exact bytes plus what EWS derives from them."""

    id: str
    raw: bytes
    received: datetime
    is_read: bool = False
    version: int = 1

    @property
    def changekey(self) -> str:
        return base64.b64encode(f"CQAAABYAAAD{self.version:08d}".encode()).decode()

    @cached_property
    def parsed(self) -> email.message.Message:
        # compat32 never raises on odd headers; header values come back as raw strings.
        return email.message_from_bytes(self.raw, policy=email.policy.compat32)

    def header(self, name: str) -> str | None:
        """Return a header unfolded and RFC 2047-decoded, as Exchange shows it."""
        value = self.parsed.get(name)
        if value is None:
            return None
        try:
            return str(email.header.make_header(email.header.decode_header(str(value))))
        except (UnicodeError, LookupError, ValueError):
            return " ".join(str(value).split())

    def raw_headers(self) -> list[tuple[str, str]]:
        """Return every header, unfolded but not decoded, in message order."""
        return [
            (name, re.sub(r"\r?\n(?=[ \t])", "", str(value)).strip())
            for name, value in self.parsed.items()
        ]

    def addresses(self, name: str) -> list[Address]:
        values = self.parsed.get_all(name) or []
        return [
            Address(name=display, email=address)
            for display, address in email.utils.getaddresses([str(v) for v in values])
            if "@" in address
        ]

    @property
    def sent(self) -> datetime | None:
        value = self.header("Date")
        try:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
        except (TypeError, ValueError):
            return None
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed


@dataclass
class FakeFolder:
    """A distinguished folder with items in arrival order.

    `generation` is written into every sync state; bumping it voids the old ones, as when a
    mailbox moves to another database.
    """

    key: str
    id: str
    parent_id: str | None
    items: dict[str, FakeItem] = field(default_factory=dict)
    generation: int = 1

    @property
    def changekey(self) -> str:
        return base64.b64encode(f"AQAAABYAAAD{self.key}".encode()).decode()

    def add(self, raw: bytes, is_read: bool = False) -> FakeItem:
        item = FakeItem(id=_new_id("AAMkAGI2"), raw=raw, received=_arrival(), is_read=is_read)
        self.items[item.id] = item
        return item


def _new_id(prefix: str) -> str:
    # Real ids are long base64 strings with '+', '/' and '=', which refs must survive.
    body = base64.b64encode(secrets.token_bytes(30) + next(_ids).to_bytes(4, "big")).decode()
    return prefix + body


_clock = itertools.count()


def _arrival() -> datetime:
    # Distinct, increasing arrival times, like a real store's.
    return datetime(2026, 3, 3, 9, 0, tzinfo=UTC) + timedelta(seconds=next(_clock))


@dataclass
class SentMessage:
    """What CreateItem submitted for delivery."""

    raw: bytes
    bcc: list[str]
    disposition: str


@dataclass
class FakeMailbox:
    """One user's mailbox with the four folders exchangelib touches."""

    email: str
    password: str
    username: str
    folders: dict[str, FakeFolder] = field(default_factory=dict)
    outbox: list[SentMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        root = FakeFolder(key="root", id=_new_id("AQMkRoot"), parent_id=None)
        top = FakeFolder(key="msgfolderroot", id=_new_id("AQMkTop"), parent_id=root.id)
        self.folders = {"root": root, "msgfolderroot": top}
        for key in ("inbox", "sentitems"):
            self.folders[key] = FakeFolder(key=key, id=_new_id("AQMkFld"), parent_id=top.id)

    def deliver(self, raw: bytes, folder: str = "inbox", is_read: bool = False) -> str:
        """Store a message and return its ItemId."""
        return self.folders[folder].add(raw, is_read=is_read).id

    def delete(self, item_id: str) -> None:
        """Remove a message wherever it is."""
        for folder in self.folders.values():
            folder.items.pop(item_id, None)

    def mark_read(self, item_id: str) -> None:
        """Flag a message read: sync reports a ReadFlagChange, not an Update."""
        self.find(item_id).is_read = True

    def touch(self, item_id: str) -> None:
        """Change a message's properties (a category, a flag): a new ChangeKey, an Update."""
        self.find(item_id).version += 1

    def invalidate_sync_states(self, folder: str = "inbox") -> None:
        """Make every sync state issued for the folder answer ErrorInvalidSyncStateData."""
        self.folders[folder].generation += 1

    def find(self, item_id: str) -> FakeItem:
        for folder in self.folders.values():
            if item_id in folder.items:
                return folder.items[item_id]
        raise KeyError(item_id)

    def folder_by_id(self, folder_id: str) -> FakeFolder | None:
        return next((f for f in self.folders.values() if f.id == folder_id), None)


# -- faults ----------------------------------------------------------------------------------


@dataclass
class Fault:
    """An answer to inject instead of the normal one, `times` times.

    kind "server_busy": HTTP 500 with the SOAP fault Exchange sends when throttling;
    "http": a bare HTTP status (401, 503); "response": every response message carries
    ResponseClass="Error" with `code`.
    """

    operation: str
    kind: str
    code: str = ""
    status: int = 500
    back_off_ms: int | None = None
    times: int = 1


# -- the server --------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    lost: bool = False  # carried out, then the connection drops before this answer


@dataclass
class Seen:
    """One request, for tests that check what the client sent."""

    host: str
    path: str
    operation: str
    authenticated: bool


class FakeExchange:
    """Hold mailboxes and answer EWS and Autodiscover requests for them.

    `ews_url` is what Autodiscover hands out as ExternalEwsUrl; tests that autodiscover set
    it to a routed name such as https://mail.example.test/EWS/Exchange.asmx.
    """

    def __init__(self) -> None:
        self.mailboxes: dict[str, FakeMailbox] = {}
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.autodiscover_error: str | None = None
        self.server: LocalHttpsServer | None = None
        self.ews_url = ""
        self.lost_replies: dict[str, int] = {}  # operation -> answers still to lose
        self._lock = threading.RLock()

    # -- setup ---------------------------------------------------------------------------

    def add_mailbox(
        self, email_address: str, password: str | None = None, username: str | None = None
    ) -> FakeMailbox:
        """Add a user; they can log in with the address or `username`."""
        mailbox = FakeMailbox(
            email=email_address,
            password=password or secrets.token_urlsafe(12),
            username=username or email_address,
        )
        self.mailboxes[email_address.lower()] = mailbox
        return mailbox

    def inject(self, operation: str, kind: str, **kwargs) -> Fault:
        """Answer the next `operation` ("CreateItem", "GetUserSettings"...) with a fault."""
        fault = Fault(operation=operation, kind=kind, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def lose_replies(self, operation: str, times: int = 1) -> None:
        """Carry out the next `times` `operation` requests, then drop the connection without
        answering (a lost reply)."""
        with self._lock:
            self.lost_replies[operation] = times

    def operations(self) -> list[str]:
        """Return the authenticated operations received so far, in order."""
        return [s.operation for s in self.seen if s.authenticated]

    @property
    def url(self) -> str:
        """Return the EWS URL on this server's loopback address and port."""
        assert self.server is not None
        return f"https://127.0.0.1:{self.server.port}/EWS/Exchange.asmx"

    # -- dispatch --------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers, body: bytes) -> Reply:
        """Answer one HTTP request."""
        route = path.split("?", 1)[0].lower()
        if method != "POST" or route not in (EWS_PATH, AUTODISCOVER_PATH):
            return html_reply(404, "Not Found")
        try:
            request = ET.fromstring(body)
            # Autodiscover names its body GetUserSettingsRequestMessage.
            operation = _local(request.find(f"{{{SOAP_NS}}}Body")[0].tag)
            operation = operation.removesuffix("RequestMessage")
        except (ET.ParseError, TypeError, IndexError):
            return html_reply(400, "Bad Request")
        mailbox = self._authenticate(headers.get("Authorization", ""))
        host = headers.get("Host", "")
        with self._lock:
            self.seen.append(Seen(host, route, operation, mailbox is not None))
        if mailbox is None:
            return Reply(401, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
        fault = self._take_fault(operation)
        if fault is not None and fault.kind != "response":
            return fault_reply(fault)
        if route == AUTODISCOVER_PATH:
            return self._autodiscover(request, fault)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return soap_fault("a:ErrorInvalidRequest", f"{operation} is not faked", 500)
        try:
            with self._lock:
                messages = handler(mailbox, request.find(f"{{{SOAP_NS}}}Body")[0])
        except ValueError as exc:
            # A request the fake cannot model: say so instead of dropping the connection.
            return soap_fault("a:ErrorInvalidRequest", f"Fake Exchange: {exc}", 500)
        if fault is not None:
            make = sync_error if operation == "SyncFolderItems" else error_message
            messages = [make(fault.code, f"Injected {fault.code}.") for _ in messages]
        reply = ews_reply(operation, messages)
        with self._lock:
            if self.lost_replies.get(operation, 0) > 0:
                self.lost_replies[operation] -= 1
                reply.lost = True
        return reply

    def _authenticate(self, header: str) -> FakeMailbox | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
        except (ValueError, UnicodeError):
            return None
        for mailbox in self.mailboxes.values():
            if user.lower() in (mailbox.email.lower(), mailbox.username.lower()):
                match = secrets.compare_digest(password.encode(), mailbox.password.encode())
                return mailbox if match else None
        return None

    def _take_fault(self, operation: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.operation == operation and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # -- autodiscover ----------------------------------------------------------------------

    def _autodiscover(self, request: ET.Element, fault: Fault | None) -> Reply:
        address = (request.findtext(f".//{{{A_NS}}}Mailbox") or "").strip()
        code = (fault.code if fault else None) or self.autodiscover_error
        if code is None and address.lower() not in self.mailboxes:
            code = "InvalidUser"
        if code:
            user = (
                f"<ErrorCode>{code}</ErrorCode><ErrorMessage>{escape(code)} for "
                f'{escape(address)}</ErrorMessage><RedirectTarget i:nil="true"/>'
                "<UserSettingErrors/><UserSettings/>"
            )
        else:
            user = (
                '<ErrorCode>NoError</ErrorCode><ErrorMessage/><RedirectTarget i:nil="true"/>'
                "<UserSettingErrors/><UserSettings>"
                + user_setting("AutoDiscoverSMTPAddress", self.mailboxes[address.lower()].email)
                + user_setting("ExternalEwsUrl", self.ews_url or self.url)
                + user_setting("EwsSupportedSchemas", SUPPORTED_SCHEMAS)
                + "</UserSettings>"
            )
        body = (
            f'<s:Envelope xmlns:s="{SOAP_NS}"><s:Header>'
            f'<h:ServerVersionInfo xmlns:h="{A_NS}"><h:MajorVersion>15</h:MajorVersion>'
            "<h:MinorVersion>1</h:MinorVersion><h:MajorBuildNumber>2507</h:MajorBuildNumber>"
            "<h:MinorBuildNumber>6</h:MinorBuildNumber></h:ServerVersionInfo></s:Header>"
            f'<s:Body><GetUserSettingsResponseMessage xmlns="{A_NS}">'
            f'<Response xmlns:i="{XSI_NS}"><ErrorCode>NoError</ErrorCode><ErrorMessage/>'
            f"<UserResponses><UserResponse>{user}</UserResponse></UserResponses></Response>"
            "</GetUserSettingsResponseMessage></s:Body></s:Envelope>"
        )
        return xml_reply(200, body)

    # -- EWS operations (each returns the inner XML of its response messages) ---------------

    def _op_ConvertId(self, mailbox: FakeMailbox, op: ET.Element) -> list[tuple[str, str]]:  # noqa: N802
        # exchangelib sends ConvertId on a dummy id only to read ServerVersionInfo.
        return [error_message("ErrorInvalidIdMalformed", "Id is malformed.")]

    def _op_GetFolder(self, mailbox: FakeMailbox, op: ET.Element) -> list[tuple[str, str]]:  # noqa: N802
        messages = []
        for folder_ref in _children(op.find(f"{{{M_NS}}}FolderIds")):
            folder = self._resolve_folder(mailbox, folder_ref)
            if folder is None:
                messages.append(error_message("ErrorFolderNotFound", "Folder not found."))
            else:
                messages.append(success(f"<m:Folders>{folder_xml(folder)}</m:Folders>"))
        return messages

    def _op_FindItem(self, mailbox: FakeMailbox, op: ET.Element) -> list[tuple[str, str]]:  # noqa: N802
        fields = requested_fields(op.find(f"{{{M_NS}}}ItemShape"))
        # FindItem cannot return these; real servers refuse them (ErrorInvalidPropertyRequest).
        refused = fields & {"item:MimeContent", "message:ToRecipients", "message:CcRecipients"}
        if refused:
            return [error_message("ErrorInvalidPropertyRequest", f"{min(refused)} in FindItem")]
        view = op.find(f"{{{M_NS}}}IndexedPageItemView")
        limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
        offset = int(view.get("Offset", "0")) if view is not None else 0
        match = restriction_matcher(op.find(f"{{{M_NS}}}Restriction"))
        messages = []
        for folder_ref in _children(op.find(f"{{{M_NS}}}ParentFolderIds")):
            folder = self._resolve_folder(mailbox, folder_ref)
            if folder is None:
                messages.append(error_message("ErrorFolderNotFound", "Folder not found."))
                continue
            found = [item for item in folder.items.values() if match(item)]
            page = found[offset : offset + limit]
            last = offset + len(page) >= len(found)
            items = "".join(item_xml(item, folder, fields) for item in page)
            messages.append(
                success(
                    f'<m:RootFolder IndexedPagingOffset="{offset + len(page)}" '
                    f'TotalItemsInView="{len(found)}" '
                    f'IncludesLastItemInRange="{str(last).lower()}">'
                    f"<t:Items>{items}</t:Items></m:RootFolder>"
                )
            )
        return messages

    def _op_GetItem(self, mailbox: FakeMailbox, op: ET.Element) -> list[tuple[str, str]]:  # noqa: N802
        fields = requested_fields(op.find(f"{{{M_NS}}}ItemShape"))
        messages = []
        for item_ref in _children(op.find(f"{{{M_NS}}}ItemIds")):
            found = self._find_item(mailbox, item_ref.get("Id", ""))
            if found is None:
                messages.append(
                    error_message("ErrorItemNotFound", "The specified object was not found.")
                )
                continue
            folder, item = found
            messages.append(success(f"<m:Items>{item_xml(item, folder, fields)}</m:Items>"))
        return messages

    def _op_SyncFolderItems(self, mailbox: FakeMailbox, op: ET.Element) -> list[tuple[str, str]]:  # noqa: N802
        folder_ref = _children(op.find(f"{{{M_NS}}}SyncFolderId"))
        folder = self._resolve_folder(mailbox, folder_ref[0]) if folder_ref else None
        if folder is None:
            return [sync_error("ErrorSyncFolderNotFound", "The folder was not found.")]
        state_text = (op.findtext(f"{{{M_NS}}}SyncState") or "").strip()
        known = decode_sync_state(state_text, folder) if state_text else {}
        if known is None:
            return [
                sync_error("ErrorInvalidSyncStateData", "Synchronization state data is invalid.")
            ]
        limit = min(int(op.findtext(f"{{{M_NS}}}MaxChangesReturned") or "100"), MAX_SYNC_CHANGES)
        fields = requested_fields(op.find(f"{{{M_NS}}}ItemShape"))
        changes = pending_changes(folder, known)
        page, rest = changes[:limit], changes[limit:]
        parts = []
        for kind, item_id in page:
            if kind == "Delete":
                parts.append(f'<t:Delete><t:ItemId Id="{item_id}" ChangeKey="AAAA"/></t:Delete>')
                del known[item_id]
                continue
            item = folder.items[item_id]
            if kind == "ReadFlagChange":
                parts.append(
                    f'<t:ReadFlagChange><t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/>'
                    f"<t:IsRead>{str(item.is_read).lower()}</t:IsRead></t:ReadFlagChange>"
                )
            else:
                parts.append(f"<t:{kind}>{item_xml(item, folder, fields)}</t:{kind}>")
            known[item_id] = [item.changekey, item.is_read]
        return [
            success(
                f"<m:SyncState>{encode_sync_state(folder, known)}</m:SyncState>"
                f"<m:IncludesLastItemInRange>{str(not rest).lower()}</m:IncludesLastItemInRange>"
                f"<m:Changes>{''.join(parts)}</m:Changes>"
            )
        ]

    def _op_CreateItem(self, mailbox: FakeMailbox, op: ET.Element) -> list[tuple[str, str]]:  # noqa: N802
        disposition = op.get("MessageDisposition", "SaveOnly")
        target = _children(op.find(f"{{{M_NS}}}SavedItemFolderId"))
        folder = (
            self._resolve_folder(mailbox, target[0]) if target else mailbox.folders["sentitems"]
        )
        if folder is None:
            return [error_message("ErrorFolderNotFound", "Folder not found.")]
        messages = []
        for message in _children(op.find(f"{{{M_NS}}}Items")):
            mime = message.findtext(f"{{{T_NS}}}MimeContent")
            if not mime:
                messages.append(error_message("ErrorInvalidRequest", "Only MIME is faked."))
                continue
            raw = base64.b64decode(mime)
            bcc = [
                (e.text or "").strip()
                for e in message.iterfind(
                    f"{{{T_NS}}}BccRecipients/{{{T_NS}}}Mailbox/{{{T_NS}}}EmailAddress"
                )
            ]
            if disposition != "SaveOnly":
                mailbox.outbox.append(SentMessage(raw=raw, bcc=bcc, disposition=disposition))
            if disposition == "SendOnly":
                messages.append(success("<m:Items/>"))
                continue
            item = folder.add(raw, is_read=True)
            # Send modes return no ItemId: clients find the copy by InternetMessageId.
            created = "" if disposition == "SendAndSaveCopy" else item_xml(item, folder, set())
            messages.append(success(f"<m:Items>{created}</m:Items>"))
        return messages

    # -- lookups -----------------------------------------------------------------------------

    def _resolve_folder(self, mailbox: FakeMailbox, ref: ET.Element) -> FakeFolder | None:
        if _local(ref.tag) == "DistinguishedFolderId":
            return mailbox.folders.get(ref.get("Id", ""))
        return mailbox.folder_by_id(ref.get("Id", ""))

    def _find_item(self, mailbox: FakeMailbox, item_id: str) -> tuple[FakeFolder, FakeItem] | None:
        for folder in mailbox.folders.values():
            if item_id in folder.items:
                return folder, folder.items[item_id]
        return None


# -- XML builders ------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element | None) -> list[ET.Element]:
    return list(element) if element is not None else []


def xml_reply(status: int, body: str) -> Reply:
    payload = ('<?xml version="1.0" encoding="utf-8"?>' + body).encode("utf-8")
    return Reply(status, payload, {"Content-Type": "text/xml; charset=utf-8"})


def html_reply(status: int, text: str) -> Reply:
    body = f"<html><body><h1>{escape(text)}</h1></body></html>".encode()
    return Reply(status, body, {"Content-Type": "text/html; charset=utf-8"})


def envelope(body: str) -> str:
    return (
        f'<s:Envelope xmlns:s="{SOAP_NS}" xmlns:m="{M_NS}" xmlns:t="{T_NS}">'
        f"<s:Header>{SERVER_VERSION}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def ews_reply(operation: str, messages: list[tuple[str, str]]) -> Reply:
    """Wrap (ResponseClass, inner XML) response messages in the operation's response."""
    parts = []
    for response_class, inner in messages:
        parts.append(
            f'<m:{operation}ResponseMessage ResponseClass="{response_class}">'
            f"{inner}</m:{operation}ResponseMessage>"
        )
    body = (
        f"<m:{operation}Response><m:ResponseMessages>{''.join(parts)}"
        f"</m:ResponseMessages></m:{operation}Response>"
    )
    return xml_reply(200, envelope(body))


def success(inner: str) -> tuple[str, str]:
    return "Success", f"<m:ResponseCode>NoError</m:ResponseCode>{inner}"


def error_message(code: str, text: str) -> tuple[str, str]:
    return "Error", (
        f"<m:MessageText>{escape(text)}</m:MessageText><m:ResponseCode>{code}"
        "</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
    )


def sync_error(code: str, text: str) -> tuple[str, str]:
    # SyncState and IncludesLastItemInRange are optional in the schema (MS-OXWSSYNC
    # 3.1.4.2.3.6) and left out here, the strictest reading: clients must not need them to
    # see the ResponseCode. (Stock exchangelib 5.6 does; see TolerantSyncFolderItems.)
    return error_message(code, text)


def soap_fault(code: str, text: str, status: int, detail: str = "") -> Reply:
    body = (
        f'<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{T_NS}">{code}</faultcode>'
        f"<faultstring>{escape(text)}</faultstring><detail>{detail}</detail>"
        "</s:Fault></s:Body></s:Envelope>"
    )
    return xml_reply(status, body)


def fault_reply(fault: Fault) -> Reply:
    """Build the injected HTTP-level answer."""
    if fault.kind == "server_busy":
        back_off = fault.back_off_ms if fault.back_off_ms is not None else 297749
        text = "The server cannot service this request right now. Try again later."
        detail = (
            f'<e:ResponseCode xmlns:e="{E_NS}">ErrorServerBusy</e:ResponseCode>'
            f'<e:Message xmlns:e="{E_NS}">{text}</e:Message>'
            f'<t:MessageXml xmlns:t="{T_NS}">'
            f'<t:Value Name="BackOffMilliseconds">{back_off}</t:Value></t:MessageXml>'
        )
        return soap_fault("a:ErrorServerBusy", text, 500, detail)
    if fault.status == 401:
        return Reply(401, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
    return html_reply(fault.status, "Service Unavailable")


def user_setting(name: str, value: str) -> str:
    return (
        f'<UserSetting i:type="StringSetting"><Name>{name}</Name>'
        f"<Value>{escape(value)}</Value></UserSetting>"
    )


def folder_xml(folder: FakeFolder) -> str:
    parent = (
        f'<t:ParentFolderId Id="{folder.parent_id}" ChangeKey="AQAAAA=="/>'
        if folder.parent_id
        else ""
    )
    folder_class = "" if folder.key in ("root",) else "<t:FolderClass>IPF.Note</t:FolderClass>"
    unread = sum(1 for item in folder.items.values() if not item.is_read)
    return (
        f'<t:Folder><t:FolderId Id="{folder.id}" ChangeKey="{folder.changekey}"/>{parent}'
        f"{folder_class}<t:DisplayName>{FOLDER_NAMES[folder.key]}</t:DisplayName>"
        f"<t:TotalCount>{len(folder.items)}</t:TotalCount>"
        f"<t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>{unread}</t:UnreadCount>"
        "</t:Folder>"
    )


def requested_fields(shape: ET.Element | None) -> set[str]:
    """Return the FieldURIs an ItemShape asks for on top of its BaseShape."""
    if shape is None:
        return set()
    return {
        uri.get("FieldURI", "")
        for uri in shape.iterfind(f"{{{T_NS}}}AdditionalProperties/{{{T_NS}}}FieldURI")
    }


def _text(tag: str, value: str | None) -> str:
    return f"<t:{tag}>{escape(value)}</t:{tag}>" if value is not None else ""


def _mailbox(address: Address) -> str:
    return (
        f"<t:Mailbox><t:Name>{escape(address.name or address.email)}</t:Name>"
        f"<t:EmailAddress>{escape(address.email)}</t:EmailAddress>"
        "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox>"
    )


def _timestamp(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def item_xml(item: FakeItem, folder: FakeFolder, fields: set[str]) -> str:
    """Return a t:Message with the ItemId and the requested fields, in schema order."""
    senders = item.addresses("From")
    sender = item.addresses("Sender") or senders
    parts = []

    def want(uri: str) -> bool:
        return uri in fields

    if want("item:MimeContent"):
        mime = base64.b64encode(item.raw).decode()
        parts.append(f'<t:MimeContent CharacterSet="UTF-8">{mime}</t:MimeContent>')
    parts.append(f'<t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/>')
    if want("item:ParentFolderId"):
        parts.append(f'<t:ParentFolderId Id="{folder.id}" ChangeKey="{folder.changekey}"/>')
    if want("item:ItemClass"):
        parts.append("<t:ItemClass>IPM.Note</t:ItemClass>")
    if want("item:Subject"):
        parts.append(_text("Subject", item.header("Subject")))
    if want("item:DateTimeReceived"):
        parts.append(_text("DateTimeReceived", _timestamp(item.received)))
    if want("item:Size"):
        parts.append(_text("Size", str(len(item.raw))))
    if want("item:InReplyTo"):
        parts.append(_text("InReplyTo", item.header("In-Reply-To")))
    if want("item:InternetMessageHeaders"):
        headers = "".join(
            f"<t:InternetMessageHeader HeaderName={quoteattr(name)}>{escape(value)}"
            "</t:InternetMessageHeader>"
            for name, value in item.raw_headers()
        )
        parts.append(f"<t:InternetMessageHeaders>{headers}</t:InternetMessageHeaders>")
    if want("item:DateTimeSent"):
        parts.append(_text("DateTimeSent", _timestamp(item.sent or item.received)))
    if want("message:Sender") and sender:
        parts.append(f"<t:Sender>{_mailbox(sender[0])}</t:Sender>")
    for uri, tag, header in (
        ("message:ToRecipients", "ToRecipients", "To"),
        ("message:CcRecipients", "CcRecipients", "Cc"),
    ):
        recipients = item.addresses(header) if want(uri) else []
        if recipients:
            parts.append(f"<t:{tag}>{''.join(_mailbox(a) for a in recipients)}</t:{tag}>")
    if want("message:From") and senders:
        parts.append(f"<t:From>{_mailbox(senders[0])}</t:From>")
    if want("message:InternetMessageId"):
        parts.append(_text("InternetMessageId", item.header("Message-ID")))
    if want("message:IsRead"):
        parts.append(_text("IsRead", str(item.is_read).lower()))
    if want("message:References"):
        parts.append(_text("References", item.header("References")))
    return f"<t:Message>{''.join(parts)}</t:Message>"


def restriction_matcher(restriction: ET.Element | None) -> Callable[[FakeItem], bool]:
    """Return a predicate for the one restriction the product sends: IsEqualTo on a field."""
    if restriction is None:
        return lambda item: True
    equal = restriction.find(f"{{{T_NS}}}IsEqualTo")
    if equal is None:
        raise ValueError("the fake only understands IsEqualTo restrictions")
    uri = equal.find(f"{{{T_NS}}}FieldURI").get("FieldURI")
    value = equal.find(f"{{{T_NS}}}FieldURIOrConstant/{{{T_NS}}}Constant").get("Value")
    headers = {"message:InternetMessageId": "Message-ID", "item:Subject": "Subject"}
    if uri not in headers:
        raise ValueError(f"the fake cannot restrict on {uri}")
    return lambda item: item.header(headers[uri]) == value


# -- sync states -----------------------------------------------------------------------------


def encode_sync_state(folder: FakeFolder, known: dict[str, list]) -> str:
    """Pack what the client has seen; gzip+base64, so it starts with H4sI like Exchange's."""
    payload = json.dumps({"f": folder.id, "g": folder.generation, "k": known}).encode()
    return base64.b64encode(gzip.compress(payload, mtime=0)).decode()


def decode_sync_state(text: str, folder: FakeFolder) -> dict[str, list] | None:
    """Return the client's view ({id: [changekey, is_read]}), or None for a void state."""
    try:
        payload = json.loads(gzip.decompress(base64.b64decode(text, validate=True)))
    except (ValueError, OSError, EOFError):
        return None
    if payload.get("f") != folder.id or payload.get("g") != folder.generation:
        return None
    return dict(payload.get("k", {}))


def pending_changes(folder: FakeFolder, known: dict[str, list]) -> list[tuple[str, str]]:
    """Diff the folder against the client's view: deletes first, then arrivals and edits."""
    changes = [("Delete", item_id) for item_id in known if item_id not in folder.items]
    for item_id, item in folder.items.items():
        if item_id not in known:
            changes.append(("Create", item_id))
        elif known[item_id][0] != item.changekey:
            changes.append(("Update", item_id))
        elif known[item_id][1] != item.is_read:
            changes.append(("ReadFlagChange", item_id))
    return changes


# -- HTTP(S) plumbing ----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as exchangelib reuses one connection per session.
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections end after this, so no handler thread outlives a test long.
    timeout = 5
    # Headers and body go out in two writes; without TCP_NODELAY the second one waits for
    # the client's delayed ACK, some 40 ms a request.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            # The handshake runs here, in the connection's thread, so a client that rejects
            # the certificate fails only its own connection.
            self.connection.do_handshake()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.app(self.command, self.path, self.headers, body)
        if reply.lost:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_HEAD = _dispatch  # noqa: N815

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # Clients that drop the connection or refuse the certificate are expected in tests.
        pass


class LocalHttpsServer:
    """Serve `app(method, path, headers, body) -> Reply` on a free loopback port."""

    def __init__(self, app: Callable[..., Reply], tls: ssl.SSLContext | None) -> None:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.app = app
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        # A short poll interval keeps stop() (which waits for one poll) fast.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def start_fake_exchange(tls: ssl.SSLContext | None) -> FakeExchange:
    """Start a FakeExchange on a free loopback port; stop it with `stop_fake_exchange`."""
    fake = FakeExchange()
    fake.server = LocalHttpsServer(fake.handle, tls)
    return fake


def stop_fake_exchange(fake: FakeExchange) -> None:
    if fake.server is not None:
        fake.server.stop()
        fake.server = None


def start_web_server(tls: ssl.SSLContext | None, status: int = 404) -> LocalHttpsServer:
    """Start a web server that is not EWS: every request gets an HTML page."""
    return LocalHttpsServer(lambda *request: html_reply(status, "Welcome to nginx!"), tls)


# -- TLS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCertificate:
    """A self-signed certificate for the fake's names, and a server context that uses it.

    Pass `ca_path` as REQUESTS_CA_BUNDLE to make clients trust it.
    """

    __test__ = False  # not a pytest test class despite the name

    context: ssl.SSLContext
    ca_path: Path


def make_certificate(directory: Path, hostnames: Iterable[str]) -> TestCertificate:
    """Issue a one-day self-signed CA certificate valid for `hostnames` and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-exchange.test")])
    now = datetime.now(UTC)
    names = [x509.DNSName(h) for h in hostnames] + [x509.IPAddress(IPv4Address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fake-exchange.pem", directory / "fake-exchange.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return TestCertificate(context=context, ca_path=cert_path)


# -- pointing exchangelib's autodiscover at the fake ---------------------------------------------


def use_fake_dns(monkeypatch, dns_server) -> None:
    """Make exchangelib's autodiscover resolve names with `dns_server` (a FakeDnsServer).

    exchangelib builds its resolver from `Autodiscovery.DNS_RESOLVER_KWARGS` and
    `DNS_RESOLVER_ATTRS`, its documented knobs; /etc/hosts is never consulted.
    """
    from exchangelib.autodiscover import Autodiscovery

    monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_KWARGS", {"configure": False})
    attrs = dict(Autodiscovery.DNS_RESOLVER_ATTRS)
    attrs.update(nameservers=["127.0.0.1"], port=dns_server.port, timeout=1.0)
    monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_ATTRS", attrs)
    monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_LIFETIME", 2.0)


def route_hosts(monkeypatch, routes: dict[str, int]) -> None:
    """Connect these host names (any port) to 127.0.0.1:<port>; other test names fail DNS.

    Autodiscover always talks to port 443 of the names it finds, so urllib3's connect step
    is redirected here, the way /etc/hosts plus a port forward would do it. Names under
    .test and .invalid that are not routed raise socket.gaierror without touching the
    system resolver.
    """
    import urllib3.util.connection

    original = urllib3.util.connection.create_connection
    table = {host.lower(): port for host, port in routes.items()}

    def create_connection(address, *args, **kwargs):
        host, port = address
        name = str(host).lower().rstrip(".")
        if name in table:
            return original(("127.0.0.1", table[name]), *args, **kwargs)
        if name.endswith((".test", ".invalid")):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return original(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)


def isolate_exchangelib(monkeypatch, directory: Path) -> None:
    """Give exchangelib a private, empty autodiscover cache file for one test.

    The cache otherwise lives in the system temp dir, shared by every process of the user,
    so one test's discovered endpoint would leak into the next.
    """
    from exchangelib.autodiscover import cache

    monkeypatch.setattr(cache, "AUTODISCOVER_PERSISTENT_STORAGE", directory / "exchangelib.cache")
    cache.autodiscover_cache.clear()


def reset_exchangelib() -> None:
    """Drop exchangelib's process-wide protocol and autodiscover caches after a test."""
    from exchangelib.autodiscover import cache
    from exchangelib.protocol import close_connections

    cache.autodiscover_cache.close()
    close_connections()
