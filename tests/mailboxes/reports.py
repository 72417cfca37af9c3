"""Delivery reports as servers send them, about an email of the test: a DSN (RFC 3464) and an
ARF feedback report (RFC 5965)."""

from email.utils import make_msgid

from .inboxes import REP_ADDRESS


def dsn(original_id: str, address: str, status: str, diagnostic: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\n"
        f"To: {REP_ADDRESS}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.acme.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {address}\r\nSubject: Our proposal\r\n"
        "--b--\r\n"
    ).encode()


def arf(original_id: str, address: str, feedback_type: str = "abuse") -> bytes:
    """An RFC 5965 feedback report, as a mailbox provider's feedback loop sends it."""
    return (
        "From: Feedback Loop <fbl@isp.example>\r\n"
        f"To: {REP_ADDRESS}\r\n"
        "Subject: Abuse report\r\n"
        f"Message-ID: {make_msgid(domain='isp.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\r\n'
        "\r\n--f\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        "--f\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback_type}\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {address}\r\n"
        "--f\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {address}\r\nSubject: Our proposal\r\n"
        "--f--\r\n"
    ).encode()
