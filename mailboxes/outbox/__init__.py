"""The outbox: `enqueue.py` is the one way any feature queues an email (privacy check,
timeline activity, message and queue row with its source); `sending.py` is the worker that
sends each email once, `outcomes.py` how each ends or waits and its history, `reconcile.py`
the lookup in Sent before anything is sent again; `throttle.py` keeps each inbox under its
limits; `actions.py` is what a rep can do with a queued email."""
