"""Run one function in several threads released together, as concurrent requests would."""

import threading

from django.db import connection


def at_once(work, times: int = 4) -> list:
    """`work()` in `times` threads started behind one barrier; what each returned (or raised),
    in the order they finished. Each thread closes its own database connection."""
    start, results = threading.Barrier(times), []

    def run():
        try:
            start.wait(10)
            results.append(work())
        except Exception as error:  # noqa: BLE001 - the caller says which it expects
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
