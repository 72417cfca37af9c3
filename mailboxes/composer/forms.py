"""Forms of the composer and of its library (templates, snippets, signatures)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from mailboxes.composer import library, tokens
from mailboxes.models import EmailTemplate, Signature, Snippet
from mailboxes.preferences.defaults import FONTS


class RichTextarea(forms.Textarea):
    """A textarea the rich-text editor takes over (static/js/editor.js); without script, the
    plain textarea. `token_menu`: its toolbar offers the tokens (templates)."""

    template_name = "mailboxes/composer/rich_text.html"

    def __init__(self, attrs=None, *, token_menu: bool = False):
        super().__init__(attrs)
        self.token_menu = token_menu

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["token_menu"] = tokens.menu() if self.token_menu else ()
        context["widget"]["fonts"] = FONTS
        return context


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


SEND_LATER_CHOICES = [
    ("now", _("Send now")),
    ("1h", _("In 1 hour")),
    ("tomorrow_morning", _("Tomorrow morning (8:00)")),
    ("tomorrow_afternoon", _("Tomorrow afternoon (13:00)")),
    ("monday_morning", _("Next Monday morning (8:00)")),
    ("custom", _("Custom date and time")),
]


def split_addresses(value: str) -> list[str]:
    return [a.strip() for a in value.replace(";", ",").split(",") if a.strip()]


class ComposeForm(forms.Form):
    """The composer. Addresses are comma-separated; times are in the user's time zone."""

    from_key = forms.ChoiceField(label=_("From"))
    to = forms.CharField(label=_("To"), required=False)
    cc = forms.CharField(label=_("Cc"), required=False)
    bcc = forms.CharField(label=_("Bcc"), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=500, required=False)
    html = forms.CharField(
        label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    attachments = MultipleFileField(label=_("Attachments"), required=False)
    records = forms.MultipleChoiceField(
        label=_("Associated with"), required=False, widget=forms.CheckboxSelectMultiple
    )
    send_when = forms.ChoiceField(label=_("When"), choices=SEND_LATER_CHOICES, initial="now")
    send_at = forms.DateTimeField(
        label=_("Date and time"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    # Both start from the rep's email preferences (views/composer.initial_values).
    log = forms.BooleanField(
        label=_("Log in CRM"),
        required=False,
        initial=True,
        help_text=_(
            "Puts this email on the timeline of the records it is associated with. Off: it is "
            "sent all the same, and listed only under Email."
        ),
    )
    track = forms.BooleanField(
        label=_("Track opens and clicks"),
        required=False,
        initial=True,
        help_text=_("An invisible image counts opens; links pass through the CRM to count clicks."),
    )
    # Sent by the "Send without subject" button, once the rep was asked.
    no_subject_confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    one_time_basis = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reply_to = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Set by the composer's script when the rep inserts a template (reports group by it).
    template_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    mode = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, from_choices=(), record_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_key"].choices = [
            (c.key, f"{c.name} <{c.address}>" if c.name else c.address) for c in from_choices
        ]
        self.fields["records"].choices = record_choices

    def clean(self):
        data = super().clean()
        if data.get("send_when") == "custom" and not data.get("send_at"):
            self.add_error("send_at", _("Choose when to send it."))
        return data


class LibraryForm(forms.ModelForm):
    """A template, snippet or signature: its HTML body is sanitized when saved, by the one
    sanitizer (what the composer inserts is sanitized again, see composer/library.py)."""

    def clean_body(self):
        return library.rich_text(self.cleaned_data["body"])


SHARING_HELP = _("Who may use it besides you. Admins can also edit and delete shared ones.")
TOKENS_HELP = _(
    "Tokens such as {{ contact.first_name }} are filled from the record the email is written "
    "on, its contact and company (the Personalize menu lists them). Give one a fallback for "
    'records without a value: {{ contact.first_name | default:"there" }}.'
)


class EmailTemplateForm(LibraryForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "subject", "body", "sharing"]
        widgets = {"body": RichTextarea(attrs={"rows": 8}, token_menu=True)}
        help_texts = {
            "subject": _("Tokens work here too."),
            "body": TOKENS_HELP,
            "sharing": SHARING_HELP,
        }


class SnippetForm(LibraryForm):
    class Meta:
        model = Snippet
        fields = ["name", "body", "sharing"]
        widgets = {"body": RichTextarea(attrs={"rows": 4})}
        help_texts = {"sharing": SHARING_HELP}


class SignatureForm(LibraryForm):
    class Meta:
        model = Signature
        fields = ["name", "body", "is_default"]
        widgets = {"body": RichTextarea(attrs={"rows": 4})}
        labels = {"is_default": _("Add it to new emails")}
