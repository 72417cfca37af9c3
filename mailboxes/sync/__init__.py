"""Sync: read each inbox incrementally and log what concerns CRM contacts (`engine.py`,
deciding from headers in `decide.py`), thread messages (`threads.py`), keep reply counts
(`replies.py`) and parse bodies lazily (`bodies.py`)."""
