"""The legal basis an import records for its contacts (Settings > Import asks for it while
data-privacy rules are on), through records' import options (records/imports/extensions.py),
registered from privacy's AppConfig.ready()."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from records.bulk import insert_rows
from records.constants import RecordKind
from records.imports.extensions import ImportOption

from .constants import EventKind, LegalBasisKind
from .models import LegalBasis, PrivacyEvent
from .selectors import gdpr_enabled
from .services import EXPLANATION_REQUIRED


class ImportLegalBasisForm(forms.Form):
    basis = forms.ChoiceField(
        label=gettext_lazy("Legal basis for the imported contacts"),
        choices=[("", gettext_lazy("Record none"))] + list(LegalBasisKind.choices),
        required=False,
        help_text=gettext_lazy(
            "Data-privacy rules are on: one-to-one and sequence email to these contacts needs a "
            "legal basis (or their One to one subscription)."
        ),
    )
    explanation = forms.CharField(
        label=gettext_lazy("Explanation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self):
        data = super().clean()
        data["explanation"] = (data.get("explanation") or "").strip()
        if data.get("basis") and not data["explanation"]:
            raise ValidationError({"explanation": EXPLANATION_REQUIRED})
        return data


def import_form(data):
    if not gdpr_enabled():
        return None
    return ImportLegalBasisForm(data, prefix="privacy")


def record_bases(choice: dict, contact_ids: list[int], actor_id: int | None) -> None:
    """A standing legal basis for each contact that has no active one of that kind, with its
    history line, in bulk."""
    basis = choice.get("basis")
    if not basis or not contact_ids:
        return
    has = set(
        LegalBasis.objects.filter(
            contact_id__in=contact_ids,
            basis=basis,
            one_time=False,
            revoked_at__isnull=True,
        ).values_list("contact_id", flat=True)
    )
    ids = [c for c in contact_ids if c not in has]
    if not ids:
        return
    now, explanation = timezone.now(), choice["explanation"]
    n = len(ids)
    bases = insert_rows(
        LegalBasis,
        {
            "contact_id": ids,
            "basis": [basis] * n,
            "explanation": [explanation] * n,
            "one_time": [False] * n,
            "recorded_by_id": [actor_id] * n,
            "recorded_at": [now] * n,
        },
        now,
    )
    insert_rows(
        PrivacyEvent,
        {
            "kind": [EventKind.BASIS_RECORDED] * n,
            "contact_id": ids,
            "actor_id": [actor_id] * n,
            "at": [now] * n,
            "details": [
                {
                    "legal_basis_id": pk,
                    "basis": basis,
                    "explanation": explanation,
                    "source": "import",
                }
                for pk in bases
            ],
        },
        now,
        keys=False,
    )


def describe(choice: dict) -> str:
    basis = choice.get("basis")
    if not basis:
        return _("No legal basis recorded.")
    return _("Legal basis recorded: %(basis)s.") % {"basis": LegalBasisKind(basis).label}


LEGAL_BASIS_OPTION = ImportOption(
    key="privacy-legal-basis",
    kinds=(RecordKind.CONTACT,),
    form=import_form,
    apply=record_bases,
    describe=describe,
)
