"""A batch of company, deal, ticket or custom-object rows into the database: each row matched
to an existing record by the chosen column (companies by domain unless told otherwise), else a
new record; in bulk, a few statements a batch."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from ..access import visible_to
from ..bulk import insert_rows, update_rows
from ..models import Record
from ..services import search_text_for
from ..types import RecordType
from .fields import fields_for
from .models import OnExisting
from .reading import Row


def _own_fields(record_type: RecordType) -> list[str]:
    """The child table's own fields the import writes (a custom object has none)."""
    if record_type.custom_type is not None:
        return []
    return [
        f.attname
        for f in record_type.model._meta.local_concrete_fields
        if not f.primary_key and f.attname != "record_ptr_id"
    ]


def _key(match_on: str, values: dict):
    value = values.get(match_on)
    if value is None or value == "":
        return None
    return value if isinstance(value, int) else str(value).casefold()


def _existing(user, record_type: RecordType, match_on: str, keys: set) -> tuple[dict, set]:
    """key -> the oldest record's id with it, and which of them `user` sees."""
    if not keys:
        return {}, set()
    qs = record_type.queryset().filter(kind=record_type.kind)
    if match_on == "id":
        qs = qs.annotate(k=F("pk")).filter(pk__in=keys)
    elif match_on.startswith("prop:"):
        qs = qs.annotate(k=Lower(KeyTextTransform(match_on[5:], "properties"))).filter(k__in=keys)
    else:
        qs = qs.annotate(k=Lower(match_on)).filter(k__in=keys)
    found = dict(qs.order_by("-pk").values_list("k", "pk"))
    visible = set(visible_to(user, qs).values_list("pk", flat=True))
    return found, visible


def _json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def write(upload, user, record_type: RecordType, rows: list[Row], refused: list, now) -> dict:
    required = [f for f in fields_for(record_type) if f.required]
    match_on = upload.match_on
    keys = {k for r in rows if (k := _key(match_on, r.values)) is not None} if match_on else set()
    found, visible = _existing(user, record_type, match_on, keys)
    claims: dict = dict(found)  # key -> an existing id, or a new record's values
    new: list[dict] = []
    updates: dict[int, dict] = {}
    counts = {"created": 0, "updated": 0, "skipped": 0}
    for row in rows:
        values = row.values
        if record_type.kind == "company" and "name" not in values and "domain" in values:
            values["name"] = values["domain"]
        key = _key(match_on, values) if match_on else None
        claim = claims.get(key) if key is not None else None
        if claim is None:
            if "name" not in values:
                refused.append((row, _("No name.")))
                continue
            missing = [str(f.label) for f in required if f.key not in values]
            if missing:
                refused.append((row, _("A value is required: %(f)s.") % {"f": ", ".join(missing)}))
                continue
            values = {**values, "owner_id": values.get("owner", upload.owner_id)}
            new.append(values)
            if key is not None and match_on != "id":
                claims[key] = values
            counts["created"] += 1
            continue
        if isinstance(claim, int) and claim not in visible:
            refused.append((row, _("It matches a record you don't have access to.")))
            continue
        if upload.on_existing == OnExisting.SKIP:
            counts["skipped"] += 1
            continue
        target = updates.setdefault(claim, {}) if isinstance(claim, int) else claim
        props = {**target.get("props", {}), **_props(values)}
        target.update(values)
        target["props"] = props
        if "owner" in values:
            target["owner_id"] = values["owner"]
        counts["updated"] += 1
    for values in new:
        values["props"] = _props(values)
    created = _insert(record_type, new, now)
    _update(record_type, updates, now)
    links = []
    for record_id, values in list(zip(created, new, strict=True)) + list(updates.items()):
        links += [(record_id, values[k]) for k in ("company_id", "contact_id") if k in values]
    return {**counts, "ids": created + list(updates), "links": links}


def _props(values: dict) -> dict:
    return {k[5:]: _json(v) for k, v in values.items() if k.startswith("prop:")}


def _digest(values: dict) -> str:
    shape = SimpleNamespace(
        name=values["name"], phone=values.get("phone", ""), domain=values.get("domain", "")
    )
    return search_text_for(shape)


def _insert(record_type: RecordType, new: list[dict], now) -> list[int]:
    if not new:
        return []
    ids = insert_rows(
        Record,
        {
            "kind": [record_type.kind] * len(new),
            "custom_type_id": [record_type.custom_type and record_type.custom_type.pk] * len(new),
            "name": [v["name"] for v in new],
            "owner_id": [v["owner_id"] for v in new],
            "properties": [v["props"] for v in new],
            "search_text": [_digest(v) for v in new],
            "created_at": [now] * len(new),
        },
        now,
    )
    own = _own_fields(record_type)
    if own:
        meta = record_type.model._meta
        columns = {"record_ptr_id": ids}
        for name in own:
            default = meta.get_field(name).get_default()
            columns[name] = [v.get(name, default) for v in new]
        insert_rows(record_type.model, columns, now, keys=False)
    return ids


def _update(record_type: RecordType, updates: dict[int, dict], now) -> None:
    if not updates:
        return
    records = list(record_type.model.objects.filter(pk__in=updates))
    own = _own_fields(record_type)
    for record in records:
        values = updates[record.pk]
        for name in own + ["name", "owner_id"]:
            if name in values:
                setattr(record, name, values[name])
        record.properties = {**record.properties, **values.get("props", {})}
        record.search_text = _digest(
            {"name": record.name, **{k: getattr(record, k, "") for k in ("phone", "domain")}}
        )
    if own:
        update_rows(records, own)
    update_rows(
        [
            Record(
                pk=r.pk,
                name=r.name,
                owner_id=r.owner_id,
                properties=r.properties,
                search_text=r.search_text,
                updated_at=now,
            )
            for r in records
        ],
        ["name", "owner", "properties", "search_text", "updated_at"],
    )
