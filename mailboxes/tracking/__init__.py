"""Open and click tracking: signed tokens (`tokens.py`), instrumenting outgoing HTML
(`links.py`), telling people from bots and proxies (`classify.py`), the per-process buffer
(`buffer.py`), and events with their rollups (`events.py`). The endpoints are `views.py`."""
