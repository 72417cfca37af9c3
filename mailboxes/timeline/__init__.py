"""An email on a record's timeline: the card and its prefetch (`activity.py`), the thread view
and the sandboxed body frame, and the actions on a sent or queued email."""
