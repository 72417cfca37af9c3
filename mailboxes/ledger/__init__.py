"""The rep's email home: the emails they wrote in the CRM, sent, scheduled, queued or failed,
with their status, recipients, the records they are logged on, opens and clicks, and what can
be done to each (the outbox's own actions)."""
