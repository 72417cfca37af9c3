"""Fault runs, `make faults` (`python -m faults [name ...]`): is every email sent exactly once
when the sending worker is killed, or the SMTP server's reply is lost?

Each run queues email through the composer's path (`email_submit`, as a rep's Send does) on an
IMAP/SMTP inbox: IMAP on a private Dovecot (the Sent folder recovery looks in), SMTP to an
aiosmtpd sink that records the Message-ID of every message it stores. A real
`celery worker -Q send` on Redis sends it, and beat's part is played faster (faults/harness.py
says how). Then every row must reach a final state (sent, reconciled, uncertain, failed) within
the run's time bound, and the run ends with one line:

    FAULTS name=<name> queued=N received=N duplicated=N lost=N uncertain=N

- queued: emails queued (Outbound rows);
- received: of those, how many the sink stored at least once (by Message-ID);
- duplicated: extra copies the sink stored (a Message-ID stored three times counts two);
- lost: emails the sink never stored although the product does not say so: it says sent or
  reconciled, or the row is still queued or sending at the end;
- uncertain: emails the product leaves to the rep ("uncertain": it may or may not have gone
  out), received or not.

A run fails (non-zero exit) when duplicated or lost is above 0, when a row is not final in
time, or when the sink stored a message no row of the run sent.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    what: str
    sends: int
    kills: int  # SIGKILLs of the worker, at random moments while it sends
    drop_every: int  # the sink drops the connection instead of answering every nth DATA; 0: never
    settle_seconds: float  # after the last restart, every row must be final within this


RUNS = {
    "send_kill": Run(
        what="the worker SIGKILLed three times mid-send, restarted each time",
        sends=1_000,
        kills=3,
        drop_every=0,
        settle_seconds=300.0,
    ),
    "dropped_reply": Run(
        what="the SMTP server stores every 30th message and drops the connection before its 250",
        sends=300,
        kills=0,
        drop_every=30,
        settle_seconds=300.0,
    ),
}
