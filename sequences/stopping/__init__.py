"""What ends or pauses an enrollment from outside the sequence: a reply (matched by thread
headers, or by the contact's address and the subject when headers were rewritten), a bounce,
an opt-out or a revoked legal basis, a meeting booked; an out-of-office pauses it until one
business day after its return date. And the send-time re-check: a queued email of an ended
enrollment is cancelled, never sent (the outbox's send guard, `outbox.send_guard`).

`receivers.connect()` (from sequences/apps.py) wires it all to the signals of mailboxes and
privacy and to the outbox's guard registry.
"""
