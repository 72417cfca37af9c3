"""Static contact lists (imported by records.models so Django finds them; they name records'
models by label, as importing them back would be a cycle)."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ContactList(models.Model):
    """A named, hand-kept set of contacts. The name is unique whatever its case."""

    name = models.CharField(_("name"), max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    contacts = models.ManyToManyField(
        "records.Contact", through="records.ListMember", related_name="contact_lists"
    )

    class Meta:
        ordering = [Lower("name"), "pk"]
        constraints = [models.UniqueConstraint(Lower("name"), name="contact_list_name_unique")]

    def __str__(self):
        return self.name


class ListMember(models.Model):
    """One contact in one list, once (`list_member_unique`), with when and by whom it came."""

    contact_list = models.ForeignKey(
        "records.ContactList", on_delete=models.CASCADE, related_name="members"
    )
    contact = models.ForeignKey(
        "records.Contact", on_delete=models.CASCADE, related_name="list_memberships"
    )
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="list_member_unique")
        ]

    def __str__(self):
        return f"contact {self.contact_id} in list {self.contact_list_id}"
