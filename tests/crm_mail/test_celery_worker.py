"""The worker process's setup."""

import gc

from crm_mail.celery import freeze_startup_objects


def test_a_worker_freezes_what_it_loaded_at_startup():
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
