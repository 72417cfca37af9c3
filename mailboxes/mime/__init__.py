"""Reading raw email: defensive MIME parsing (`parsing.py`), telling machine-sent mail from a
person's (`autoreply.py`) and the one HTML sanitizer (`sanitize.py`). No database."""
