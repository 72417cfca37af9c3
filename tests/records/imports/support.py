"""Running an import in tests as the product does: the file kept by `import_create`, its
mapping saved, then the worker's task function (records/tasks.py) run in this process."""

from records.imports import services
from records.imports.models import Import
from records.tasks import import_run
from records.types import get_record_type


def run_import(user, slug: str, data: bytes, *, name="people.csv", **changes) -> Import:
    upload = services.import_create(user, get_record_type(slug), name, data)
    for field, value in changes.items():
        if field == "mapping":
            upload.mapping = {**upload.mapping, **value}
        else:
            setattr(upload, field, value)
    upload.save()
    services.import_start(upload)
    import_run(upload.pk)
    upload.refresh_from_db()
    return upload
