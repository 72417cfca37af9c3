"""Delivery status notifications (RFC 3464) as a relay that was asked for them (RFC 3461)
writes them, from what the test relay (`dsn_relay`) received: the envelope id and each
recipient's ORCPT as the client sent them, and the message's headers (RET=HDRS)."""

from __future__ import annotations

from email.utils import format_datetime, make_msgid

from django.utils import timezone

from mailboxes.bounces.reports import xtext_decode

REPORTING_MTA = "relay.shop.test"


def success_dsn(received, *, action: str = "delivered", status: str = "2.0.0") -> bytes:
    """The report the relay sends back to the envelope From for `received` (a
    ReceivedMessage): one recipient group per recipient it was asked to notify on success."""
    headers = received.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    envid = received.dsn_mail.get("ENVID", "")
    groups = []
    for address, asked in received.dsn_rcpt.items():
        if "SUCCESS" not in asked.get("NOTIFY", "").upper():
            continue
        original = asked.get("ORCPT", "")
        groups.append(
            (
                f"Original-Recipient: {original.split(';', 1)[0]};"
                f"{xtext_decode(original.split(';', 1)[1])}\r\n"
                if original
                else ""
            )
            + f"Final-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {status}\r\n"
            f"Remote-MTA: dns; mx.{address.rpartition('@')[2]}\r\n"
            f"Diagnostic-Code: smtp; 250 {status} Ok: queued as 4Xy7\r\n"
        )
    per_message = f"Reporting-MTA: dns; {REPORTING_MTA}\r\n"
    if envid:
        per_message += f"Original-Envelope-Id: {envid}\r\n"
    per_message += f"Arrival-Date: {format_datetime(timezone.now())}\r\n"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@{REPORTING_MTA}>\r\n"
        f"To: {received.mail_from}\r\n"
        "Subject: Successful Mail Delivery Report\r\n"
        f"Message-ID: {make_msgid(domain=REPORTING_MTA)}\r\n"
        f"Date: {format_datetime(timezone.now())}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r1"\r\n'
        "\r\n--r1\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system at host relay.shop.test.\r\n\r\n"
        "Your message was successfully delivered to the destination(s) listed below.\r\n"
        "--r1\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"{per_message}\r\n" + "\r\n".join(groups) + "\r\n"
        "--r1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n"
        "--r1--\r\n"
    ).encode()
