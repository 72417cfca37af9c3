"""Rotating DJANGO_SECRET_KEY: the old key in DJANGO_SECRET_KEY_FALLBACKS keeps the SMTP tokens
and API keys made under it working; without it they stop.

Each step is `manage.py` in a process of its own, so the keys come from the environment as in
production (crm_mail/settings.py reads them), on a database file of the test's own.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD = "the-old-secret-key-" + "o" * 40
NEW = "the-new-secret-key-" + "n" * 40

MAKE = """
import json
from records.models import User
from transactional.credentials import services
admin = User.objects.create_user("rotator", is_staff=True)
token = services.smtp_token_create("Shop", admin)
key = services.api_key_create("ERP", admin, scopes=["transactional-email"])
print(json.dumps([token.username, token.password, key.api_key]))
"""
CHECK = """
import json, sys
from django.conf import settings
from transactional.credentials.auth import authenticate_api_key, authenticate_smtp
username, password, api_key = json.loads(sys.stdin.read())
print(json.dumps({
    "fallbacks": settings.SECRET_KEY_FALLBACKS,
    "smtp": authenticate_smtp(username, password, client_address="127.0.0.9") is not None,
    "api": authenticate_api_key("Bearer " + api_key) is not None,
}))
"""


def manage(var: Path, script: str, stdin: str = "", **env) -> str:
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ENV")}
    full.pop("DJANGO_SECRET_KEY_FALLBACKS", None)
    full |= {"CRM_VAR_DIR": str(var), "DJANGO_ENV": "development", **env}
    args = ["shell", "-c", script] if script != "migrate" else ["migrate", "--noinput"]
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.mark.timeout(300)
def test_a_token_made_under_the_old_key_works_while_the_old_key_is_a_fallback(tmp_path):
    manage(tmp_path, "migrate", DJANGO_SECRET_KEY=OLD)
    made = manage(tmp_path, MAKE, DJANGO_SECRET_KEY=OLD)

    rotated = json.loads(
        manage(
            tmp_path,
            CHECK,
            made,
            DJANGO_SECRET_KEY=NEW,
            DJANGO_SECRET_KEY_FALLBACKS=f" an-older-key-{'x' * 40} , {OLD} ,",
        )
    )
    assert rotated == {
        "fallbacks": [f"an-older-key-{'x' * 40}", OLD],
        "smtp": True,
        "api": True,
    }

    dropped = json.loads(manage(tmp_path, CHECK, made, DJANGO_SECRET_KEY=NEW))
    assert dropped == {"fallbacks": [], "smtp": False, "api": False}
