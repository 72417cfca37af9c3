"""Forms of the connect flows and the team inbox settings."""

from django import forms
from django.core.exceptions import ValidationError

from records.models import Team, User

from .constants import Provider, Security, TeamInboxKind
from .models import EmailTemplate, Signature, Snippet, TeamInbox


class AddressForm(forms.Form):
    email = forms.EmailField(
        label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class ImapConnectForm(forms.Form):
    """Email and password, with the servers pre-filled by detection and editable."""

    email = forms.EmailField(label="Email address")
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=True),
        help_text="With two-factor sign-in, use an app password from your provider.",
    )
    username = forms.CharField(required=False, help_text="Leave empty to sign in with the email.")
    imap_host = forms.CharField(label="IMAP server", max_length=255)
    imap_port = forms.IntegerField(label="IMAP port", min_value=1, max_value=65535, initial=993)
    imap_security = forms.ChoiceField(
        label="IMAP security", choices=Security.choices, initial=Security.SSL
    )
    smtp_host = forms.CharField(label="SMTP server", max_length=255)
    smtp_port = forms.IntegerField(label="SMTP port", min_value=1, max_value=65535, initial=587)
    smtp_security = forms.ChoiceField(
        label="SMTP security", choices=Security.choices, initial=Security.STARTTLS
    )
    separate_smtp_login = forms.BooleanField(
        label="The SMTP server uses a different login", required=False
    )
    smtp_username = forms.CharField(label="SMTP username", required=False)
    smtp_password = forms.CharField(
        label="SMTP password", required=False, widget=forms.PasswordInput(render_value=True)
    )
    trust_any_certificate = forms.BooleanField(
        label="Trust any certificate",
        required=False,
        help_text="Only for servers with a self-signed certificate you know. Not recommended.",
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        data = super().clean()
        if data.get("separate_smtp_login") and not (
            data.get("smtp_username") and data.get("smtp_password")
        ):
            raise ValidationError("Give the SMTP username and password, or untick the option.")
        return data

    def config(self) -> dict:
        data = self.cleaned_data
        keys = (
            "username",
            "imap_host",
            "imap_port",
            "imap_security",
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "trust_any_certificate",
        )
        config = {k: data[k] for k in keys}
        config["smtp_username"] = data["smtp_username"] if data["separate_smtp_login"] else ""
        return config

    def secret(self) -> dict:
        data = self.cleaned_data
        secret = {"password": data["password"]}
        if data["separate_smtp_login"]:
            secret["smtp_password"] = data["smtp_password"]
        return secret


class ExchangeConnectForm(forms.Form):
    email = forms.EmailField(label="Email address")
    password = forms.CharField(widget=forms.PasswordInput(render_value=True))
    username = forms.CharField(
        required=False, help_text="Often the part before @, or DOMAIN\\user. Optional."
    )
    ews_url = forms.CharField(
        label="Exchange URL",
        required=False,
        help_text="Optional. Like https://mail.example.com/EWS/Exchange.asmx, or paste the "
        "address of your webmail and we'll work it out.",
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class TeamInboxForm(forms.ModelForm):
    class Meta:
        model = TeamInbox
        fields = ["name", "kind", "display_name", "route_to_team", "route_to_user"]
        labels = {
            "route_to_team": "Route new conversations to team",
            "route_to_user": "…or to this user",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = TeamInboxKind.choices
        self.fields["route_to_team"].queryset = Team.objects.all()
        users = self.fields["route_to_user"]
        users.queryset = User.objects.filter(is_active=True).order_by("username")
        users.label_from_instance = lambda u: u.display_name


class TeamAddressForm(forms.Form):
    email = forms.EmailField(label="Team address")
    provider = forms.ChoiceField(
        choices=[
            (Provider.GMAIL, Provider.GMAIL.label),
            (Provider.OFFICE365, Provider.OFFICE365.label),
        ]
    )


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
    ("now", "Send now"),
    ("1h", "In 1 hour"),
    ("tomorrow_morning", "Tomorrow morning (8:00)"),
    ("tomorrow_afternoon", "Tomorrow afternoon (13:00)"),
    ("monday_morning", "Next Monday morning (8:00)"),
    ("custom", "Custom date and time"),
]


def split_addresses(value: str) -> list[str]:
    return [a.strip() for a in value.replace(";", ",").split(",") if a.strip()]


class ComposeForm(forms.Form):
    """The composer. Addresses are comma-separated; times are in the user's time zone."""

    from_key = forms.ChoiceField(label="From")
    to = forms.CharField(label="To", required=False)
    cc = forms.CharField(label="Cc", required=False)
    bcc = forms.CharField(label="Bcc", required=False)
    subject = forms.CharField(max_length=500, required=False)
    html = forms.CharField(
        label="Message", required=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    attachments = MultipleFileField(required=False)
    records = forms.MultipleChoiceField(
        label="Associated with", required=False, widget=forms.CheckboxSelectMultiple
    )
    send_when = forms.ChoiceField(label="When", choices=SEND_LATER_CHOICES, initial="now")
    send_at = forms.DateTimeField(
        label="Date and time",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    track = forms.BooleanField(label="Track opens and clicks", required=False, initial=True)
    one_time_basis = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reply_to = forms.IntegerField(required=False, widget=forms.HiddenInput)
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
            self.add_error("send_at", "Choose when to send it.")
        return data


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "subject", "body", "shared"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}
        help_texts = {
            "body": "Tokens: {{ contact.first_name }}, {{ contact.last_name }}, "
            "{{ contact.email }}, {{ company.name }}, {{ sender.name }}.",
        }


class SnippetForm(forms.ModelForm):
    class Meta:
        model = Snippet
        fields = ["name", "body", "shared"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}


class SignatureForm(forms.ModelForm):
    class Meta:
        model = Signature
        fields = ["name", "body", "is_default"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}
        labels = {"is_default": "Add it to new emails"}
