from django.db import models


class Heartbeat(models.Model):
    """The last sign of life of one background part: beat, or the workers of one queue.

    In the database rather than the cache: the embedded setup's cache is per process, and the
    web process reads what the worker and beat processes write (crm_mail/heartbeats.py).
    """

    name = models.CharField(max_length=100, primary_key=True)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
