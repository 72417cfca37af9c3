"""Settings for the tracking benchmarks' gunicorn: the project's, plus the reference views.

The benchmark starts gunicorn with DJANGO_ENV=production (DEBUG off, every middleware the
product ships with) and this module, so the project's endpoints and the bare reference views
run in the same server with the same middleware.
"""

import os

from crm_mail.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ref_urls"
# The bench process flushes the same stream; keep it apart from any other data in that Redis.
TRACKING_STREAM = os.environ.get("BENCH_TRACKING_STREAM", "bench:tracking:events")
# "direct" measures the unbuffered mode (one classified transaction per hit) for comparison.
TRACKING_BUFFER = os.environ.get("BENCH_TRACKING_BUFFER") or None
