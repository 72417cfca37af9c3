"""For tests that count what happened "this minute" or "today" (the sending throttle's UTC
windows) and then read the count back: start them where the window cannot close mid-test."""

import time

MINUTE = 60
DAY = 86_400  # UTC days: the epoch began at midnight UTC


def inside_one(period: int, needs: float) -> None:
    """Return when at least `needs` seconds are left of the current UTC `period` (a minute,
    a day), waiting for the next one to begin if fewer are."""
    left = period - time.time() % period
    if left < needs:
        time.sleep(left + 0.1)
