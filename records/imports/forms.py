"""The upload form and the mapping form of Settings > Import."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import User
from ..types import RecordType, all_record_types, get_record_type
from .extensions import import_options
from .fields import fields_for
from .models import OnExisting

SKIP = ""


class UploadForm(forms.Form):
    type_slug = forms.ChoiceField(label=gettext_lazy("What the file holds"))
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8 (with or without BOM) or Excel's CSV, separated by commas or semicolons; "
            "a HubSpot export of contacts or companies works as it is."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={
            "empty": gettext_lazy("The file is empty."),
            "required": gettext_lazy("Choose a CSV file."),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type_slug"].choices = [(t.slug, t.plural) for t in all_record_types()]

    def clean_type_slug(self) -> RecordType:
        return get_record_type(self.cleaned_data["type_slug"])


class MappingForm(forms.Form):
    """One choice per column of the file (a field or "Don't import"), what existing records
    are matched on, what to do with them, the owner of new records (admins choose), and the
    options the apps above add (privacy's legal basis)."""

    on_existing = forms.ChoiceField(
        label=gettext_lazy("Records that exist already"),
        choices=OnExisting.choices,
    )

    def __init__(self, *args, upload, record_type: RecordType, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload, self.record_type, self.user = upload, record_type, user
        self.targets = {f.key: f for f in fields_for(record_type)}
        choices = [(SKIP, _("Don't import"))] + [(k, str(f.label)) for k, f in self.targets.items()]
        self.columns = []
        for index, name in enumerate(upload.header):
            key = f"col_{index}"
            self.fields[key] = forms.ChoiceField(
                label=name or _("Column %(n)s") % {"n": index + 1},
                choices=choices,
                required=False,
                initial=upload.mapping.get(str(index), SKIP),
            )
            self.columns.append(key)
        self.initial.setdefault("on_existing", upload.on_existing)
        if record_type.kind != "contact":
            matchable = [(k, str(f.label)) for k, f in self.targets.items() if f.matchable]
            self.fields["match_on"] = forms.ChoiceField(
                label=_("Match existing records on"),
                choices=[("", _("Nothing: every row is a new record"))] + matchable,
                required=False,
                initial=upload.match_on,
            )
        if user.is_staff:
            self.fields["owner"] = forms.ModelChoiceField(
                label=_("Owner of new records"),
                queryset=User.objects.filter(is_active=True).order_by("username"),
                initial=upload.owner_id or user.pk,
                required=False,
                help_text=_("An Owner column, when mapped, wins over it."),
            )
            self.fields["owner"].label_from_instance = lambda u: u.display_name
        self.options = []
        for option in import_options(record_type.kind):
            form = option.form(args[0] if args else None)
            if form is not None:
                self.options.append((option, form))

    def column_fields(self):
        return [self[key] for key in self.columns]

    def other_fields(self):
        return [self[key] for key in self.fields if key not in self.columns]

    def clean(self):
        data = super().clean()
        chosen = [data.get(key) for key in self.columns if data.get(key)]
        twice = {k for k in chosen if chosen.count(k) > 1 and k != "other_emails"}
        if twice:
            labels = ", ".join(str(self.targets[k].label) for k in sorted(twice))
            raise ValidationError(
                _("Two columns are mapped to the same field: %(f)s.") % {"f": labels}
            )
        kind = self.record_type.kind
        if kind == "contact" and "email" not in chosen:
            raise ValidationError(
                _("Map a column to Email: contacts are matched and kept by their address.")
            )
        if kind == "company" and not {"name", "domain"} & set(chosen):
            raise ValidationError(_("Map a column to Name or Domain."))
        if (
            kind not in ("contact", "company")
            and "name" not in chosen
            and data.get("match_on") != "id"
        ):
            raise ValidationError(_("Map a column to the name of the records."))
        match_on = data.get("match_on")
        if match_on and match_on not in chosen:
            self.add_error("match_on", _("Map a column to this field to match on it."))
        for _option, form in self.options:
            if not form.is_valid():
                raise ValidationError(_("Correct the errors below."))
        return data

    def mapping(self) -> dict[str, str]:
        return {
            key.removeprefix("col_"): self.cleaned_data.get(key) or SKIP for key in self.columns
        }

    def save(self) -> None:
        upload = self.upload
        upload.mapping = self.mapping()
        upload.match_on = (
            "email" if self.record_type.kind == "contact" else self.cleaned_data.get("match_on", "")
        )
        upload.on_existing = self.cleaned_data["on_existing"]
        if self.user.is_staff:
            upload.owner = self.cleaned_data.get("owner")
        else:
            upload.owner = self.user
        upload.options = {option.key: form.cleaned_data for option, form in self.options}
        upload.save(
            update_fields=["mapping", "match_on", "on_existing", "owner", "options", "updated_at"]
        )
