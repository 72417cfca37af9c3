"""The sending pool of transactional email: the SMTP relay an admin configures (the real MTA:
the product never becomes one), optional DKIM signing by the product, the queue of its own and
its per-domain deferrals, and the deliverability check of the sending domain."""
