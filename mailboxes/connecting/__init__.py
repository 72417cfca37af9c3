"""Connecting inboxes: provider recommendation and IMAP/SMTP autodetect, the connect and OAuth
flows, the account's address rules (`services.py`), what each connection gives access to
(`disclosures.py`), the settings pages, and the adapter built for each stored inbox
(`connections.py`)."""
