"""Run the benchmarks: `python -m bench` runs them all, `python -m bench timeline` one of them.

Exits non-zero when a benchmark crashes or reports a broken invariant, and at once when what it
needs is missing (bench/tools.py: wrk and Dovecot are installed when it can, asked for when not).
"""

import importlib
import os
import sys
import time
import traceback

from . import BENCHMARKS, tools
from .common import configure_environment, setup_django


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"bench: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    tools.ensure([t for name in names for t in tools.BENCH_NEEDS.get(name, ())], who="make bench")
    configure_environment()
    tools.ensure_servers(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], who="make bench")
    setup_django()
    failed = []
    for name in names:
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            ok = importlib.import_module(BENCHMARKS[name]).run()
        except Exception as exc:
            # Without the chain: a broken URLconf repeats itself once per middleware.
            print("".join(traceback.format_exception(exc, chain=False)), end="")
            print(f"FAIL {name}: crashed")
            ok = False
        if not ok:
            failed.append(name)
        print(f"({name} took {time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
