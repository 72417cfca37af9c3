"""Shared rule for tests that need a real server: skip on a laptop, fail under CI."""

import os
from pathlib import Path

import pytest


def server_missing(what: str) -> None:
    """Stop the test because `what` is unavailable: a failure under CI=true, else a skip."""
    message = f"{what} is not available"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: servers the suite needs must be present)")
    pytest.skip(message)


# The acceptance corpus of real-world messages (see tests/corpus/MANIFEST.md).
CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
