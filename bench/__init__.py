"""Benchmarks run by `make bench` (`python -m bench [name ...]`).

Each benchmark is a module here with a `run() -> bool` function. It fills its own data in the
bench database on PostgreSQL (kept between runs), measures the project through Django's test
Client, prints context lines, and ends with exactly one line:

    BENCH name=<name> value=<number> unit=<unit> ref=<number or -> target=<the figure aimed at>

`run()` returns False when an invariant the benchmark checks is broken (not for a slow figure,
whose verdict is printed beside the target).
"""

BENCHMARKS = {
    "timeline": "bench.timeline",
    "contact_search": "bench.contact_search",
    "imap_sync": "bench.imap_sync",
    "gmail_sync": "bench.gmail_sync",
    "tracking_open": "bench.tracking_open",
    "tracking_click": "bench.tracking_click",
    "send_throughput": "bench.send_throughput",
    "sequence_tick": "bench.sequence_tick",
    "smtp_api": "bench.smtp_api",
    "single_send_api": "bench.single_send_api",
    "conversation_poll": "bench.conversation_poll",
    "reports": "bench.reports",
    "contact_import": "bench.contact_import",
}
