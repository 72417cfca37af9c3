"""Connected inboxes and everything email below the features built on it.

One sub-package per sub-domain (docs/architecture.md has the whole map):

- `connecting/`: connect, configure and disconnect inboxes (autodetect, OAuth flows, address
  rules, the settings pages), and build each inbox's provider adapter.
- `providers/`: one adapter per provider behind the `MailProvider` interface, reached only
  through its registry; imports nothing of the CRM.
- `mime/`: read raw email defensively (headers, bodies, auto-replies) and sanitize HTML.
- `sync/`: the incremental sync of each inbox: change feed, decide from headers, write in
  bulk, threads, reply counts, lazy bodies.
- `composer/`: what a rep writes: the composer, templates, snippets and signatures.
- `outbox/`: the one enqueue service every sending feature calls, the sending worker, the
  per-inbox throttle and the rep's actions on a queued email.
- `tracking/`: signed open pixel and click links, bot classification, events and rollups.
- `bounces/`: read delivery and feedback reports and apply them to the email they are about.
- `timeline/`: how an email shows on a record's timeline (card, thread view, body frame).

`models/` holds the tables split the same way; `signals.py` tells the layers above what
happened; `jobs.py` queues background work by task name.
"""
