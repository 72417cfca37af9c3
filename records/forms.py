"""Forms for records, activities and the admin area. Errors are shown beside each field."""

import re
import zoneinfo
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .access import visible_to
from .constants import RESERVED_SLUGS, MeetingOutcome, PropertyType, RecordKind, TaskType
from .models import (
    AccountSettings,
    Company,
    Contact,
    CustomObjectType,
    Deal,
    PropertyDefinition,
    Record,
    Team,
    Ticket,
    User,
)
from .money import currency_choices, number_locale_choices
from .services import addresses_in_use, clean_addresses


class OwnerChoiceMixin:
    """Offer active users as owners, labelled with their display names."""

    def _setup_owner(self):
        owner = self.fields.get("owner")
        if owner is not None:
            owner.queryset = User.objects.filter(is_active=True).order_by("username")
            owner.label_from_instance = lambda u: u.display_name
            owner.required = False


class ContactForm(OwnerChoiceMixin, forms.ModelForm):
    """A contact and its addresses. `user` is who fills it in: an address that belongs to
    another contact is refused with a link to that contact if they may see it, and without a
    word about it otherwise."""

    primary_email = forms.EmailField(label=gettext_lazy("Primary email"), required=False)
    other_emails = forms.CharField(
        label=gettext_lazy("Other email addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("One per line or separated by commas."),
    )

    class Meta:
        model = Contact
        fields = ["first_name", "last_name", "phone", "job_title", "lifecycle_stage", "owner"]

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self._setup_owner()
        if self.instance.pk:
            # Also when bound: what the edit changed is told from it (record_changed).
            self.initial["primary_email"] = self.instance.email
        if self.instance.pk and not self.is_bound:
            addresses = [e.address for e in self.instance.emails.all()]
            self.initial["other_emails"] = "\n".join(
                a for a in addresses if a != self.instance.email
            )

    def clean_other_emails(self) -> list[str]:
        raw = self.cleaned_data.get("other_emails", "")
        addresses = [a.strip() for a in re.split(r"[\s,;]+", raw) if a.strip()]
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                _("Not valid email addresses: %(bad)s"), params={"bad": ", ".join(bad)}
            )
        return addresses

    def clean(self):
        data = super().clean()
        if not (data.get("first_name") or data.get("last_name") or data.get("primary_email")):
            raise ValidationError(_("Give the contact a name or an email address."))
        if data.get("other_emails") and not data.get("primary_email"):
            self.add_error("primary_email", _("Set a primary address before adding others."))
        if not self.errors:
            taken = addresses_in_use(self.emails, self.instance if self.instance.pk else None)
            for address, contact_id in taken.items():
                self.address_in_use(address, contact_id)
        return data

    def address_in_use(self, address: str, contact_id: int) -> None:
        """Refuse `address`, which belongs to contact `contact_id`, beside the field it is in.

        Whoever may see that contact gets a link to it; anyone else learns only that some
        contact they cannot see has it: not its name, owner or id.
        """
        address = address.lower()
        on_primary = address == (self.cleaned_data.get("primary_email") or "").strip().lower()
        other = (
            visible_to(self.user, Contact.objects.filter(pk=contact_id)).only("name").first()
            if self.user is not None
            else None
        )
        if other is not None:
            link = format_html(
                '<a href="{}">{}</a>',
                reverse("records:detail", args=["contacts", other.pk]),
                other.name,
            )
            if on_primary:
                message = format_html(_("This address is already used by {contact}."), contact=link)
            else:
                message = format_html(
                    _("{address} is already used by {contact}."), address=address, contact=link
                )
        elif on_primary:
            message = _("This address already belongs to another contact you don't have access to.")
        else:
            message = _(
                "%(address)s already belongs to another contact you don't have access to."
            ) % {"address": address}
        self.add_error("primary_email" if on_primary else "other_emails", message)

    @property
    def emails(self) -> list[str]:
        primary = self.cleaned_data.get("primary_email") or ""
        return clean_addresses(
            ([primary] if primary else []) + self.cleaned_data.get("other_emails", [])
        )


class CompanyForm(OwnerChoiceMixin, forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "domain", "industry", "city", "phone", "owner"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_owner()

    def clean_domain(self):
        domain = self.cleaned_data["domain"].strip().lower()
        domain = re.sub(r"^https?://", "", domain).split("/")[0].removeprefix("www.")
        if domain and not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
            raise ValidationError(_("Enter a domain such as example.com."))
        return domain


class DealForm(OwnerChoiceMixin, forms.ModelForm):
    class Meta:
        model = Deal
        fields = ["name", "stage", "amount", "close_date", "owner"]
        widgets = {"close_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_owner()
        currency = AccountSettings.load().currency
        self.fields["amount"].help_text = _("In %(currency)s.") % {"currency": currency}

    def clean_amount(self):
        amount = self.cleaned_data.get("amount")
        if amount is not None and amount < 0:
            raise ValidationError(_("The amount cannot be negative."))
        return amount


class TicketForm(OwnerChoiceMixin, forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["name", "status", "priority", "description", "owner"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {"name": gettext_lazy("Ticket name")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_owner()


def _property_field(definition: PropertyDefinition) -> forms.Field:
    common = {"label": definition.label, "required": definition.required}
    if definition.type == PropertyType.NUMBER:
        return forms.DecimalField(**common)
    if definition.type == PropertyType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if definition.type == PropertyType.BOOLEAN:
        return forms.BooleanField(**{**common, "required": False})
    if definition.type == PropertyType.CHOICE:
        choices = [("", "—")] + [(o, o) for o in definition.options]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=1000, **common)


class CustomRecordForm(OwnerChoiceMixin, forms.ModelForm):
    """A record of a custom object type; one field per property definition."""

    class Meta:
        model = Record
        fields = ["name", "owner"]

    def __init__(self, *args, object_type: CustomObjectType, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_owner()
        self.definitions = list(object_type.property_definitions.all())
        for definition in self.definitions:
            field_name = f"prop_{definition.key}"
            self.fields[field_name] = _property_field(definition)
            if not self.is_bound and definition.key in self.instance.properties:
                self.initial[field_name] = self.instance.properties[definition.key]
        self.order_fields(["name"] + [f"prop_{d.key}" for d in self.definitions] + ["owner"])

    def property_values(self) -> dict:
        values = {}
        for definition in self.definitions:
            value = self.cleaned_data.get(f"prop_{definition.key}")
            if isinstance(value, Decimal):
                value = str(value)
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            if value not in (None, ""):
                values[definition.key] = value
        return values


FORM_FOR_KIND = {
    "contact": ContactForm,
    "company": CompanyForm,
    "deal": DealForm,
    "ticket": TicketForm,
}


class NoteForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=20000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": gettext_lazy("Start typing to leave a note…")}
        ),
        error_messages={"required": gettext_lazy("A note cannot be empty.")},
    )


class TaskForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    task_type = forms.ChoiceField(
        label=gettext_lazy("Type"), choices=TaskType.choices, initial=TaskType.TODO
    )
    due_at = forms.DateTimeField(
        label=gettext_lazy("Due"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    assigned_to = forms.ModelChoiceField(
        label=gettext_lazy("Assigned to"), queryset=User.objects.none(), required=False
    )
    body = forms.CharField(
        label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        # The note form on the same page owns id_body; the task's fields get their own ids.
        kwargs.setdefault("auto_id", "id_task_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["assigned_to"]
        field.queryset = User.objects.filter(is_active=True).order_by("username")
        field.label_from_instance = lambda u: u.display_name


class MeetingForm(forms.Form):
    """Log a meeting. Its attendees are picked among the record's associated contacts that the
    user may see; a contact's own meeting has the contact as attendee without asking."""

    DURATIONS = [(m, gettext_lazy("%(n)s minutes") % {"n": m}) for m in (15, 30, 45, 60, 90, 120)]

    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Starts"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    duration_minutes = forms.TypedChoiceField(
        label=gettext_lazy("Duration"), choices=DURATIONS, coerce=int, initial=30
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=MeetingOutcome.choices,
        initial=MeetingOutcome.SCHEDULED,
    )
    attendees = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Contacts who attend"),
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    body = forms.CharField(
        label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, user=None, record=None, **kwargs):
        kwargs.setdefault("auto_id", "id_meeting_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["attendees"]
        if record is None or record.kind == RecordKind.CONTACT:
            del self.fields["attendees"]
            return
        field.queryset = visible_to(
            user, Contact.objects.filter(links_in__from_record_id=record.pk)
        ).order_by("name")
        field.label_from_instance = lambda c: c.name
        field.initial = list(field.queryset.values_list("pk", flat=True))
        if not field.initial:
            field.help_text = _("No contacts are associated with this record.")


class AssociationForm(forms.Form):
    record_id = forms.IntegerField(min_value=1)


class CustomObjectTypeForm(forms.ModelForm):
    class Meta:
        model = CustomObjectType
        fields = ["name", "plural"]

    def clean(self):
        data = super().clean()
        plural = data.get("plural")
        if plural:
            slug = slugify(plural)
            if not slug:
                self.add_error("plural", _("Use letters or digits in the plural name."))
            elif slug in RESERVED_SLUGS:
                self.add_error(
                    "plural", _("“%(plural)s” is taken by a built-in type.") % {"plural": plural}
                )
            elif CustomObjectType.objects.exclude(pk=self.instance.pk).filter(slug=slug).exists():
                self.add_error("plural", _("Another object type already uses this name."))
            else:
                self.instance.slug = slug
        return data


class PropertyDefinitionForm(forms.ModelForm):
    options_text = forms.CharField(
        label=gettext_lazy("Options"),
        required=False,
        help_text=gettext_lazy("For dropdowns: options separated by commas."),
    )

    class Meta:
        model = PropertyDefinition
        fields = ["label", "type", "required"]
        labels = {
            "label": gettext_lazy("Label"),
            "type": gettext_lazy("Type"),
            "required": gettext_lazy("Required"),
        }

    def __init__(self, *args, object_type: CustomObjectType, **kwargs):
        super().__init__(*args, **kwargs)
        self.object_type = object_type

    def clean(self):
        data = super().clean()
        label = data.get("label", "")
        key = slugify(label).replace("-", "_")
        if label and not key:
            self.add_error("label", _("Use letters or digits in the label."))
        elif (
            key in ("name", "owner")
            or self.object_type.property_definitions.filter(key=key).exists()
        ):
            self.add_error("label", _("This object type already has a property with this name."))
        options = [o.strip() for o in data.get("options_text", "").split(",") if o.strip()]
        if data.get("type") == PropertyType.CHOICE and not options:
            self.add_error("options_text", _("A dropdown needs at least one option."))
        self.instance.key = key
        self.instance.options = options if data.get("type") == PropertyType.CHOICE else []
        self.instance.object_type = self.object_type
        self.instance.position = self.object_type.property_definitions.count()
        return data


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name"]


class UserForm(forms.ModelForm):
    """Create or edit a user; a password is required when creating."""

    password = forms.CharField(
        label=gettext_lazy("Password"),
        widget=forms.PasswordInput(render_value=True),
        required=False,
        help_text=gettext_lazy("Leave empty to keep the current password."),
    )

    class Meta:
        model = User
        fields = [
            "username",
            "first_name",
            "last_name",
            "email",
            "profile_name",
            "team",
            "seat",
            "record_access",
            "time_zone",
            "is_staff",
            "is_active",
        ]
        labels = {
            "profile_name": gettext_lazy("Profile name"),
            "team": gettext_lazy("Team"),
            "seat": gettext_lazy("Seat"),
            "record_access": gettext_lazy("Record access"),
            "time_zone": gettext_lazy("Time zone"),
            "is_staff": gettext_lazy("Account admin"),
            "is_active": gettext_lazy("Active"),
        }

    def clean_password(self):
        password = self.cleaned_data.get("password", "")
        if not self.instance.pk and not password:
            raise ValidationError(_("Set a password for the new user."))
        if password:
            from django.contrib.auth.password_validation import validate_password

            validate_password(password, self.instance)
        return password

    def save(self, commit=True):
        user = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        if commit:
            user.save()
        return user


class AccountSettingsForm(forms.ModelForm):
    """The account's currency and the way its amounts are written."""

    # Choices from Babel's data, listed when the form is made: the model keeps plain codes.
    currency = forms.ChoiceField(
        label=gettext_lazy("Currency"),
        choices=currency_choices,
        help_text=gettext_lazy("Deal amounts are in this currency."),
    )
    number_locale = forms.ChoiceField(
        label=gettext_lazy("Number format"),
        choices=number_locale_choices,
        help_text=gettext_lazy(
            "How amounts are written: separators, decimals and where the currency's "
            "sign goes (the samples show euros)."
        ),
    )

    class Meta:
        model = AccountSettings
        fields = ["currency", "number_locale"]


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def time_zone_field(help_text) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=gettext_lazy("Time zone"), choices=time_zone_choices, help_text=help_text
    )


class ProfileForm(forms.ModelForm):
    """A user's own profile on Settings > General: the From name and their time zone."""

    time_zone = time_zone_field(gettext_lazy("Dates and times in the CRM show in this zone."))

    class Meta:
        model = User
        fields = ["first_name", "last_name", "profile_name", "time_zone"]
        labels = {"profile_name": gettext_lazy("Profile name")}
        help_texts = {
            "profile_name": gettext_lazy(
                "The From name of the email you send. Empty: your first and last name."
            )
        }
