"""Each user's email defaults (`EmailPreferences`): the From address new emails start from,
the font and size of what they write, and whether new emails are logged and tracked. The
"Email" part of Settings > General edits them (`forms.py`); the composer opens with them and
the sent email carries the font (`composer/drafts.py`)."""
