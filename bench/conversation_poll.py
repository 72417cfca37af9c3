"""conversation_poll: requests a second of the conversations inbox's "anything new?" poll for
an unchanged inbox, beside a bare view.

Target: under wrk at 16 connections, signed-in users (16 members of the inbox's team, each
request as one of them, with their session cookie and the ETag their list came with) polling
`GET /conversations/<inbox>/list/?view=open` of an inbox of CONVERSATIONS conversations where
nothing changes, each answered 304, reach at least 0.8 of the requests per second of a bare
Django view at the same depth that also requires a signed-in user and answers 304 without
reading anything else (bench/ref_urls.py: `ref_conversation_poll`). Same server as
bench/tracking.py runs: gunicorn, sync workers, the production settings (every middleware),
the bench database on PostgreSQL. Both sides in 2-second slices, interleaved.

The poll's work beyond the bare view is its one query (mailboxes/conversations/listing.py:
`version`); a bare view that signs nobody in would measure the session and user lookups that
every signed-in page pays, which the issue's comparison is not about.
"""

import os
import tempfile
import urllib.request
from datetime import timedelta
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.test import override_settings
from django.utils import timezone

from mailboxes.constants import MailboxKind, Provider, TeamInboxKind
from mailboxes.models import Conversation, EmailThread, Mailbox, TeamInbox
from records.bulk import insert_rows
from records.models import Team, User

from . import tracking
from .common import bench_line

NAME = "conversation_poll"
TARGET_SHARE = 0.8
TARGET = f">={TARGET_SHARE} of ref"
SLICE = os.environ.get("BENCH_POLL_SLICE", "2s")
SLICES = int(os.environ.get("BENCH_POLL_SLICES", "10"))
USERS = 16
CONVERSATIONS = 10_000
# A domain of its own: an inbox's domain is never logged by default, and every contact of
# imap_sync's data has a primary address @bench.example.
ADDRESS = "support@convo-bench.test"

# Each request as the next user: their cookie and their ETag (`|`-separated lists in env).
_LUA = """
local counter = 0
local cookies, etags = {}, {}
for c in string.gmatch(os.getenv("BENCH_COOKIES"), "[^|]+") do table.insert(cookies, c) end
for e in string.gmatch(os.getenv("BENCH_ETAGS"), "[^|]+") do table.insert(etags, e) end
request = function()
  counter = counter + 1
  local i = (counter % #cookies) + 1
  return wrk.format("GET", os.getenv("BENCH_PATH"), {
    ["Cookie"] = "sessionid=" .. cookies[i],
    ["If-None-Match"] = etags[i],
  })
end
"""


def _setup() -> tuple[Mailbox, list[User]]:
    team, _ = Team.objects.get_or_create(name="Bench support")
    inbox, _ = TeamInbox.objects.get_or_create(
        name="Bench support", defaults={"kind": TeamInboxKind.CONVERSATIONS, "route_to_team": team}
    )
    # The team inbox's one inbox, moved to ADDRESS if an earlier run made it elsewhere.
    mailbox = Mailbox.objects.filter(team_inbox=inbox).first() or Mailbox(
        kind=MailboxKind.TEAM, provider=Provider.GMAIL, team_inbox=inbox
    )
    if mailbox.email != ADDRESS:
        mailbox.email = ADDRESS
        mailbox.save()
    users = []
    for n in range(USERS):
        user, _ = User.objects.get_or_create(
            username=f"bench-agent-{n}", defaults={"team": team, "email": f"a{n}@convo-bench.test"}
        )
        users.append(user)
    have = Conversation.objects.filter(mailbox=mailbox).count()
    if have < CONVERSATIONS:
        now, n = timezone.now(), CONVERSATIONS - have
        thread = EmailThread.objects.create(subject="bench")
        insert_rows(
            Conversation,
            {
                "mailbox_id": [mailbox.pk] * n,
                "thread_id": [thread.pk] * n,
                "counterpart": [f"c{have + i}@customer.example" for i in range(n)],
                "subject": [f"Question {have + i}" for i in range(n)],
                "last_activity_at": [now - timedelta(minutes=i) for i in range(n)],
            },
            now,
        )
    return mailbox, users


def _session(user: User) -> str:
    """A signed-in session of `user`, as the login form makes one, under the server's key."""
    with override_settings(SECRET_KEY=tracking.SECRET_KEY):
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        return store.session_key


def _get(base: str, path: str, cookie: str, etag: str = "") -> tuple[int, str]:
    headers = {"Cookie": f"sessionid={cookie}"}
    if etag:
        headers["If-None-Match"] = etag
    request = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("ETag", "")
    except urllib.error.HTTPError as answer:  # 304 comes as an "error"
        return answer.code, answer.headers.get("ETag", "")


def run() -> bool:
    mailbox, users = _setup()
    path = f"/conversations/{mailbox.pk}/list/?view=open"
    ref_path = f"/ref/conversations/{mailbox.pk}/list/?view=open"
    print(f"server: gunicorn sync x{tracking.WORKERS}, DJANGO_ENV=production, PostgreSQL")
    print(f"inbox: {CONVERSATIONS:,} conversations, {USERS} signed-in members polling it")
    print(f"wrk: -t{tracking.THREADS} -c{tracking.CONNECTIONS}, {SLICES} slices of -d{SLICE}")
    cookies = [_session(u) for u in users]
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        workdir = Path(tmp)
        with tracking._gunicorn(workdir) as base:
            etags = []
            for cookie in cookies:
                status, etag = _get(base, path, cookie)
                again, _ = _get(base, path, cookie, etag)
                if (status, again) != (200, 304):
                    print(f"FAIL the poll answered {status} then {again}, not 200 then 304")
                    return False
                etags.append(etag)
            env = {"BENCH_COOKIES": "|".join(cookies), "BENCH_ETAGS": "|".join(etags)}

            def wrk(target: str, duration: str) -> dict:
                return tracking._wrk(
                    base, [target], workdir, duration, lua=_LUA, env={**env, "BENCH_PATH": target}
                )

            wrk(ref_path, "2s")
            wrk(path, "2s")
            bare, ours = tracking.interleaved(
                SLICES, lambda: wrk(ref_path, SLICE), lambda: wrk(path, SLICE)
            )
    ok, value, ref_value = tracking.compare("conversation poll", bare, ours)
    share = value / ref_value
    print(f"share of the bare view's req/s: {share:.0%}")
    print(f"target {TARGET}: {'met' if share >= TARGET_SHARE else 'MISSED'}")
    print(bench_line(NAME, value, "req/s", ref_value, TARGET))
    return ok
