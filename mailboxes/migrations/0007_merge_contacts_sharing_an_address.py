"""Merge the contacts that share an address, so that an address belongs to one contact at most.

Until now two contacts could hold the same address (any case), and sync logged each email from
it on both: a rep who could see only their own records could read another team's mail by
creating a contact with its customer's address. records 0005_contactemail_one_contact adds the
unique index on the lowercased address; this migration runs first (`run_before`) and leaves no
address on two contacts.

Where it lives: the merge moves rows of all three apps (records' addresses, timeline links and
associations; privacy's subscriptions, opt-outs, legal bases and history; mailboxes' email
links and queued emails' contact ids) before it deletes a contact, and only mailboxes may know
all three (docs/architecture.md, "Layers"). records stays unaware of it: this migration
depends on the records and privacy migrations it reads and declares that it runs before the
records one that adds the index. Splitting it into one migration per app would not work: a
contact can only be deleted once every app has moved its rows off it, and records would then
have to depend on the migrations of the apps above it.

For each group of contacts linked by a shared address the oldest (lowest id) is kept, with its
name, owner and properties, and each other contact of the group is merged into it and deleted:

- its addresses move to the kept contact as secondary ones (one it already has is dropped);
- its timeline links, associations (both directions) and email links move; a link the kept
  contact already has, or one that would associate it with itself, is dropped, never the
  activity, record or email it leads to;
- its legal bases and privacy history move; an opt-out of all email moves (the earlier one is
  kept when both have one); when both have a status for the same subscription type the more
  restrictive stays (opted out, then not specified, then subscribed), and a change of the kept
  contact's status is written to its privacy history;
- its id is replaced by the kept contact's in the contact ids of queued and sent emails, and a
  ContactMerge row leads its old id to the kept contact, so the preferences and unsubscribe
  links of email already sent still work.

Addresses are then lowercased, as contact_save stores them. A contact is deleted only after a
check that nothing refers to it any more (the migration fails, and changes nothing, otherwise).
What was merged, and every subscription conflict, is printed in the migration's output. It
cannot be undone: migrating back leaves the merged contacts merged.
"""

from collections import defaultdict

from django.db import migrations
from django.db.models import Count, Q
from django.db.models.functions import Lower

# Most restrictive first: which subscription status the kept contact ends with.
RESTRICTIVENESS = {"opted_out": 0, "not_specified": 1, "subscribed": 2}


def _groups(contacts_by_address: dict[str, set[int]]) -> dict[int, list[int]]:
    """Contacts linked by shared addresses (transitively): kept id -> ids merged into it."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in contacts_by_address.values():
        first, *rest = sorted(ids)
        for other in rest:
            a, b = find(first), find(other)
            if a != b:
                # Each root is the lowest id of its group: the contact that is kept.
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for x in list(parent):
        if find(x) != x:
            groups[find(x)].append(x)
    return {keeper: sorted(merged) for keeper, merged in sorted(groups.items())}


class Merge:
    def __init__(self, apps):
        self.Contact = apps.get_model("records", "Contact")
        self.ContactEmail = apps.get_model("records", "ContactEmail")
        self.ContactMerge = apps.get_model("records", "ContactMerge")
        self.ActivityLink = apps.get_model("records", "ActivityLink")
        self.Association = apps.get_model("records", "Association")
        self.EmailMessage = apps.get_model("mailboxes", "EmailMessage")
        self.EmailContact = self.EmailMessage._meta.get_field("contacts").remote_field.through
        self.Outbound = apps.get_model("mailboxes", "Outbound")
        self.SubscriptionStatus = apps.get_model("privacy", "SubscriptionStatus")
        self.ContactOptOut = apps.get_model("privacy", "ContactOptOut")
        self.LegalBasis = apps.get_model("privacy", "LegalBasis")
        self.PrivacyEvent = apps.get_model("privacy", "PrivacyEvent")
        self.report: list[str] = []

    def run(self) -> None:
        shared = list(
            self.ContactEmail.objects.annotate(lowered=Lower("address"))
            .order_by()
            .values("lowered")
            .annotate(rows=Count("id"))
            .filter(rows__gt=1)
            .values_list("lowered", flat=True)
        )
        contacts_by_address: dict[str, set[int]] = defaultdict(set)
        for start in range(0, len(shared), 1000):
            rows = (
                self.ContactEmail.objects.annotate(lowered=Lower("address"))
                .filter(lowered__in=shared[start : start + 1000])
                .order_by("contact_id", "-is_primary", "id")
            )
            seen: set[tuple[int, str]] = set()
            for row in rows:
                contacts_by_address[row.lowered].add(row.contact_id)
                if (row.contact_id, row.lowered) in seen:
                    # The same address twice on one contact, in another case: keep one.
                    row.delete()
                seen.add((row.contact_id, row.lowered))
        groups = _groups({a: ids for a, ids in contacts_by_address.items() if len(ids) > 1})
        merged_into = {}
        for keeper, merged in groups.items():
            for contact_id in merged:
                self.merge(keeper, contact_id)
                merged_into[contact_id] = keeper
            self.refresh(keeper)
        self.rewrite_outbound(merged_into)
        self.ContactEmail.objects.exclude(address=Lower("address")).update(address=Lower("address"))
        self.Contact.objects.exclude(email=Lower("email")).update(email=Lower("email"))
        if groups:
            merged_count = sum(len(m) for m in groups.values())
            print(
                f"\n  Contacts sharing an address: merged {merged_count} contact(s) into "
                f"{len(groups)} kept contact(s) (the oldest of each group keeps its name, "
                "owner and properties):"
            )
            for line in self.report:
                print(f"    {line}")
            print(
                "    A merged contact's owner sees the kept contact only if their record access "
                "covers it (its owner is unchanged)."
            )

    def describe(self, contact_id: int) -> str:
        contact = self.Contact.objects.select_related("owner").get(pk=contact_id)
        owner = contact.owner.username if contact.owner else "no owner"
        return f"#{contact_id} {contact.name!r} ({owner})"

    def merge(self, keeper: int, merged: int) -> None:
        line = f"{self.describe(merged)} merged into {self.describe(keeper)}:"
        at = len(self.report)
        self.report.append(line)  # completed below, before the subscription conflicts
        moved = {
            "addresses": self.move_addresses(keeper, merged),
            "timeline links": self.move_pairs(
                self.ActivityLink, "record_id", "activity_id", keeper, merged
            ),
            "email links": self.move_pairs(
                self.EmailContact, "contact_id", "emailmessage_id", keeper, merged
            ),
            "associations": self.move_associations(keeper, merged),
            "legal bases": self.LegalBasis.objects.filter(contact_id=merged).update(
                contact_id=keeper
            ),
            "privacy events": self.PrivacyEvent.objects.filter(contact_id=merged).update(
                contact_id=keeper
            ),
            "opt-outs": self.move_opt_out(keeper, merged),
            "subscription statuses": self.move_subscriptions(keeper, merged),
        }
        self.ContactMerge.objects.filter(contact_id=merged).update(contact_id=keeper)
        self.ContactMerge.objects.create(merged_id=merged, contact_id=keeper)
        counts = ", ".join(f"{n} {what}" for what, n in moved.items() if n)
        self.report[at] = f"{line} {counts} moved" if counts else f"{line} nothing to move"
        left = {
            "addresses": self.ContactEmail.objects.filter(contact_id=merged),
            "timeline links": self.ActivityLink.objects.filter(record_id=merged),
            "associations": self.Association.objects.filter(
                Q(from_record_id=merged) | Q(to_record_id=merged)
            ),
            "email links": self.EmailContact.objects.filter(contact_id=merged),
            "legal bases": self.LegalBasis.objects.filter(contact_id=merged),
            "privacy events": self.PrivacyEvent.objects.filter(contact_id=merged),
            "opt-outs": self.ContactOptOut.objects.filter(contact_id=merged),
            "subscription statuses": self.SubscriptionStatus.objects.filter(contact_id=merged),
        }
        remaining = [what for what, qs in left.items() if qs.exists()]
        if remaining:
            raise RuntimeError(
                f"Contact {merged} still has {', '.join(remaining)} after its merge into "
                f"{keeper}; nothing was changed."
            )
        self.Contact.objects.filter(pk=merged).delete()

    def move_addresses(self, keeper: int, merged: int) -> int:
        """Addresses compare as the unique index does (lowercased by the database)."""
        lowered = self.ContactEmail.objects.annotate(lowered=Lower("address"))
        have = set(lowered.filter(contact_id=keeper).values_list("lowered", flat=True))
        moved = 0
        for row in lowered.filter(contact_id=merged).order_by("-is_primary", "id"):
            if row.lowered in have:
                row.delete()
                continue
            self.ContactEmail.objects.filter(pk=row.pk).update(
                contact_id=keeper, address=Lower("address"), is_primary=False
            )
            have.add(row.lowered)
            moved += 1
        return moved

    def move_pairs(
        self, model, owner_field: str, other_field: str, keeper: int, merged: int
    ) -> int:
        """Move `model` rows from `merged` to `keeper`; a row `keeper` already has (the same
        activity, the same email) is dropped instead: its unique pair would clash."""
        on_keeper = model.objects.filter(**{owner_field: keeper}).values(other_field)
        model.objects.filter(**{owner_field: merged, f"{other_field}__in": on_keeper}).delete()
        return model.objects.filter(**{owner_field: merged}).update(**{owner_field: keeper})

    def move_associations(self, keeper: int, merged: int) -> int:
        Association = self.Association
        # Between the two, an association would become one of the kept contact with itself.
        Association.objects.filter(
            Q(from_record_id=merged, to_record_id=keeper)
            | Q(from_record_id=keeper, to_record_id=merged)
        ).delete()
        moved = 0
        for side, other in (("from_record_id", "to_record_id"), ("to_record_id", "from_record_id")):
            on_keeper = Association.objects.filter(**{side: keeper}).values(other)
            Association.objects.filter(**{side: merged, f"{other}__in": on_keeper}).delete()
            moved += Association.objects.filter(**{side: merged}).update(**{side: keeper})
        return moved

    def move_opt_out(self, keeper: int, merged: int) -> int:
        theirs = self.ContactOptOut.objects.filter(contact_id=merged).first()
        if theirs is None:
            return 0
        ours = self.ContactOptOut.objects.filter(contact_id=keeper).first()
        fields = {
            "opted_out_at": theirs.opted_out_at,
            "source": theirs.source,
            "actor_id": theirs.actor_id,
        }
        if ours is None:
            self.ContactOptOut.objects.create(contact_id=keeper, **fields)
        elif theirs.opted_out_at < ours.opted_out_at:
            self.ContactOptOut.objects.filter(contact_id=keeper).update(**fields)
        self.ContactOptOut.objects.filter(contact_id=merged).delete()
        return 1

    def move_subscriptions(self, keeper: int, merged: int) -> int:
        moved = 0
        rows = self.SubscriptionStatus.objects.filter(contact_id=merged).select_related(
            "subscription_type"
        )
        for theirs in rows:
            ours = self.SubscriptionStatus.objects.filter(
                contact_id=keeper, subscription_type_id=theirs.subscription_type_id
            ).first()
            if ours is None:
                self.SubscriptionStatus.objects.filter(pk=theirs.pk).update(contact_id=keeper)
                moved += 1
                continue
            name = theirs.subscription_type.name
            if RESTRICTIVENESS.get(theirs.status, 1) < RESTRICTIVENESS.get(ours.status, 1):
                old = ours.status
                for field in (
                    "status",
                    "legal_basis",
                    "legal_basis_explanation",
                    "by_contact",
                    "updated_by_id",
                    "updated_at",
                ):
                    setattr(ours, field, getattr(theirs, field))
                ours.save()
                self.PrivacyEvent.objects.create(
                    kind="subscription_changed",
                    contact_id=keeper,
                    details={
                        "subscription_type": name,
                        "old": old,
                        "new": theirs.status,
                        "by_contact": theirs.by_contact,
                        "legal_basis": theirs.legal_basis,
                        "merged_from": merged,
                    },
                )
                self.report.append(
                    f"  {name}: #{keeper} was {old}, #{merged} {theirs.status}: now {theirs.status}"
                )
            else:
                self.report.append(
                    f"  {name}: #{keeper} {ours.status} kept over #{merged} {theirs.status}"
                )
            theirs.delete()
        return moved

    def refresh(self, keeper: int) -> None:
        """One primary address, and the search digest (contact_save's) over every address."""
        addresses = self.ContactEmail.objects.filter(contact_id=keeper)
        contact = self.Contact.objects.get(pk=keeper)
        if not addresses.filter(is_primary=True).exists():
            first = (
                addresses.filter(address__iexact=contact.email).first()
                or addresses.order_by("id").first()
            )
            addresses.filter(pk=first.pk).update(is_primary=True)
        emails = list(
            addresses.annotate(lowered=Lower("address"))
            .order_by("-is_primary", "id")
            .values_list("lowered", flat=True)
        )
        parts = [contact.name, *emails, contact.phone, contact.job_title]
        self.Contact.objects.filter(pk=keeper).update(
            email=emails[0], search_text=" ".join(p for p in parts if p).lower()
        )

    def rewrite_outbound(self, merged_into: dict[int, int]) -> None:
        """Queued and sent emails name their contacts by id (re-checked before sending)."""
        if not merged_into:
            return
        changed = []
        for pk, contact_ids in self.Outbound.objects.values_list("pk", "contact_ids").iterator(
            chunk_size=2000
        ):
            if not any(c in merged_into for c in contact_ids or ()):
                continue
            new_ids = []
            for c in contact_ids:
                c = merged_into.get(c, c)
                if c not in new_ids:
                    new_ids.append(c)
            changed.append((pk, new_ids))
        for pk, new_ids in changed:
            self.Outbound.objects.filter(pk=pk).update(contact_ids=new_ids)
        if changed:
            self.report.append(f"{len(changed)} queued or sent email(s) now name the kept contacts")


def merge_contacts_sharing_an_address(apps, schema_editor):
    Merge(apps).run()


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0006_outbound_source_and_replies"),
        ("privacy", "0002_builtin_subscription_types"),
        ("records", "0004_contactmerge"),
    ]
    run_before = [("records", "0005_contactemail_one_contact")]

    operations = [
        migrations.RunPython(merge_contacts_sharing_an_address, migrations.RunPython.noop),
    ]
