"""Bounces: read delivery (DSN) and feedback (ARF) reports (`reports.py`), apply them to the
email they are about and flag bad addresses (`processing.py`), and show a contact's bounced
addresses on its record page (`panel.py`)."""
