"""Forms of the connect flows, the team inbox settings and the sending settings."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from mailboxes.connecting import caps
from mailboxes.constants import Provider, Security, TeamInboxKind
from mailboxes.models import Mailbox, SendingSettings, TeamInbox
from mailboxes.tracking.domain import normalize_domain
from records.models import Team, User


class AddressForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class ImapConnectForm(forms.Form):
    """Email and password, with the servers pre-filled by detection and editable."""

    email = forms.EmailField(label=_("Email address"))
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(render_value=True),
        help_text=_("With two-factor sign-in, use an app password from your provider."),
    )
    username = forms.CharField(
        label=_("Username"),
        required=False,
        help_text=_("Leave empty to sign in with the email."),
    )
    imap_host = forms.CharField(label=_("IMAP server"), max_length=255)
    imap_port = forms.IntegerField(label=_("IMAP port"), min_value=1, max_value=65535, initial=993)
    imap_security = forms.ChoiceField(
        label=_("IMAP security"), choices=Security.choices, initial=Security.SSL
    )
    smtp_host = forms.CharField(label=_("SMTP server"), max_length=255)
    smtp_port = forms.IntegerField(label=_("SMTP port"), min_value=1, max_value=65535, initial=587)
    smtp_security = forms.ChoiceField(
        label=_("SMTP security"), choices=Security.choices, initial=Security.STARTTLS
    )
    separate_smtp_login = forms.BooleanField(
        label=_("The SMTP server uses a different login"), required=False
    )
    smtp_username = forms.CharField(label=_("SMTP username"), required=False)
    smtp_password = forms.CharField(
        label=_("SMTP password"), required=False, widget=forms.PasswordInput(render_value=True)
    )
    trust_any_certificate = forms.BooleanField(
        label=_("Trust any certificate"),
        required=False,
        help_text=_("Only for servers with a self-signed certificate you know. Not recommended."),
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        data = super().clean()
        if data.get("separate_smtp_login") and not (
            data.get("smtp_username") and data.get("smtp_password")
        ):
            raise ValidationError(_("Give the SMTP username and password, or untick the option."))
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
    email = forms.EmailField(label=_("Email address"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput(render_value=True))
    username = forms.CharField(
        label=_("Username"),
        required=False,
        help_text=_("Often the part before @, or DOMAIN\\user. Optional."),
    )
    ews_url = forms.CharField(
        label=_("Exchange URL"),
        required=False,
        help_text=_(
            "Optional. Like https://mail.example.com/EWS/Exchange.asmx, or paste the "
            "address of your webmail and we'll work it out."
        ),
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class TeamInboxForm(forms.ModelForm):
    class Meta:
        model = TeamInbox
        fields = [
            "name",
            "kind",
            "display_name",
            "route_to_team",
            "route_to_user",
            "round_robin",
            "open_cap",
            "reassign_after_minutes",
            "response_target_minutes",
            "create_contacts",
        ]
        labels = {
            "route_to_team": _("Route new conversations to team"),
            "route_to_user": _("…or to this user"),
            "round_robin": _("Assign in turn within the team (round robin)"),
            "open_cap": _("Open conversations per person at most"),
            "reassign_after_minutes": _("Reassign when unanswered after (working minutes)"),
            "response_target_minutes": _("Answer within (working minutes)"),
            "create_contacts": _("Unknown senders become contacts"),
        }

    def clean(self):
        data = super().clean()
        if data.get("reassign_after_minutes") and not data.get("round_robin"):
            self.add_error(
                "reassign_after_minutes",
                _(
                    "Reassigning gives conversations to the next teammate in turn: turn round "
                    "robin on."
                ),
            )
        if data.get("round_robin") and (data.get("route_to_user") or not data.get("route_to_team")):
            self.add_error(
                "round_robin",
                _(
                    "Round robin gives conversations out within a team: choose the team, and "
                    "no single user."
                ),
            )
        return data

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = TeamInboxKind.choices
        self.fields["route_to_team"].queryset = Team.objects.all()
        users = self.fields["route_to_user"]
        users.queryset = User.objects.filter(is_active=True).order_by("username")
        users.label_from_instance = lambda u: u.display_name


class TeamAddressForm(forms.Form):
    email = forms.EmailField(label=_("Team address"))
    provider = forms.ChoiceField(
        label=_("Provider"),
        choices=[
            (Provider.GMAIL, Provider.GMAIL.label),
            (Provider.OFFICE365, Provider.OFFICE365.label),
        ],
    )


# -- sending limits (Settings > Email > Sending, Settings > All inboxes) ----------------------

# The most an inbox without a provider cap may be given: far beyond any server's, and within
# the database column.
MAX_LIMIT = 1_000_000
WINDOW_LABELS = {caps.MINUTE: _("Emails a minute"), caps.DAY: _("Recipients a day")}


def limit_field(plan: caps.Plan, window: str, initial: int) -> forms.IntegerField:
    """A limit, refused under 1 and over its plan's cap with a message that says so.

    The browser's own checks are off (the forms are `novalidate`): the page says what is
    wrong beside the field instead."""
    return forms.IntegerField(
        label=WINDOW_LABELS[window],
        initial=initial,
        min_value=1,
        max_value=plan.cap(window) or MAX_LIMIT,
        error_messages={
            "min_value": _("A limit must be 1 or more."),
            "max_value": caps.over_cap_message(plan, window)
            or _("At most %(max)s.") % {"max": number_format(MAX_LIMIT, force_grouping=True)},
            "invalid": _("Type a whole number."),
            "required": _("Type a limit."),
        },
    )


class NewInboxLimitsForm(forms.Form):
    """The limits a new inbox starts with, one pair per provider plan, each within its cap."""

    def __init__(self, *args, account: SendingSettings, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        for plan in caps.PLANS:
            current = caps.account_defaults(account, plan)
            for window in (caps.MINUTE, caps.DAY):
                self.fields[self.name(plan, window)] = limit_field(plan, window, current[window])

    @staticmethod
    def name(plan: caps.Plan, window: str) -> str:
        return f"{plan.key}-{window}"

    def rows(self):
        """(plan, its minute field, its day field) for each plan, for the page's table."""
        for plan in caps.PLANS:
            yield plan, self[self.name(plan, caps.MINUTE)], self[self.name(plan, caps.DAY)]

    def save(self) -> None:
        data = self.cleaned_data
        self.account.new_inbox_limits = {
            plan.key: {window: data[self.name(plan, window)] for window in (caps.MINUTE, caps.DAY)}
            for plan in caps.PLANS
        }
        self.account.save()


class InboxLimitsForm(forms.Form):
    """One inbox's limits, within its plan's cap."""

    def __init__(self, *args, mailbox: Mailbox, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = caps.mailbox_plan(mailbox)
        self.fields["per_minute"] = limit_field(self.plan, caps.MINUTE, mailbox.send_per_minute)
        self.fields["per_day"] = limit_field(self.plan, caps.DAY, mailbox.send_per_day)
        for name, window in (("per_minute", caps.MINUTE), ("per_day", caps.DAY)):
            self.fields[name].help_text = caps.cap_help(self.plan, window)


class TrackingDomainForm(forms.Form):
    tracking_domain = forms.CharField(
        label=_("Tracking domain"),
        required=False,
        max_length=300,
        help_text=_(
            "A host name of your own domain, like t.example.com. Leave it empty to use the "
            "CRM's own address."
        ),
    )

    def clean_tracking_domain(self):
        value = self.cleaned_data["tracking_domain"].strip()
        return normalize_domain(value) if value else ""
