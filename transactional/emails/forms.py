"""The editor of a transactional email and the form that picks its recipients."""

from django import forms
from django.utils.translation import gettext_lazy as _

from mailboxes.composer import library
from mailboxes.composer.forms import RichTextarea
from records.lists.models import ContactList
from transactional.emails import render
from transactional.emails.models import TransactionalEmail
from transactional.emails.sending import domain_of
from transactional.pool.models import SendingPool


class TransactionalTextarea(RichTextarea):
    """The composer's editor, its Personalize menu offering the contact's tokens only."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["token_menu"] = render.menu()
        return context


TOKENS_HELP = _(
    "Contact tokens such as {{ contact.first_name }} (the Personalize menu), with a fallback "
    'if you like: {{ contact.first_name | default:"there" }}. Custom tokens such as '
    "{{ custom.order_id }} are filled by the API's customProperties."
)


class EmailForm(forms.ModelForm):
    class Meta:
        model = TransactionalEmail
        fields = ["name", "subject", "from_name", "from_address", "reply_to", "body"]
        widgets = {"body": TransactionalTextarea(attrs={"rows": 10}, token_menu=True)}
        help_texts = {
            "name": _("Only you and your colleagues see it."),
            "subject": _("Tokens work here too."),
            "from_name": _("Empty: the sending pool's default From name."),
            "from_address": _("On the sending pool's domain. Empty: the pool's default From."),
            "body": TOKENS_HELP,
        }

    def clean_body(self):
        return library.rich_text(self.cleaned_data["body"])

    def clean_from_address(self):
        address = self.cleaned_data["from_address"].strip().lower()
        pool = SendingPool.load()
        if address and pool.from_address and domain_of(address) != domain_of(pool.from_address):
            raise forms.ValidationError(
                _("Use an address on the sending pool's domain, %(domain)s.")
                % {"domain": domain_of(pool.from_address)}
            )
        return address

    def clean(self):
        data = super().clean()
        for name in ("subject", "body"):
            unknown = render.unknown_tokens(data.get(name, ""))
            if unknown:
                self.add_error(
                    name,
                    _("Unknown token: %(tokens)s. Use the Personalize menu or {{ custom.NAME }}.")
                    % {"tokens": ", ".join(unknown)},
                )
        return data


SEND_WHEN = [("now", _("Send now")), ("later", _("Schedule"))]


class RecipientsForm(forms.Form):
    addresses = forms.CharField(
        label=_("Contacts' email addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "ada@example.com, …"}),
        help_text=_("One or more, separated by commas, spaces or lines."),
    )
    contact_list = forms.ModelChoiceField(
        label=_("Or a saved list"),
        queryset=ContactList.objects.order_by("name"),
        required=False,
        empty_label=_("No list"),
    )
    when = forms.ChoiceField(label=_("When"), choices=SEND_WHEN, initial="now")
    send_at = forms.DateTimeField(
        label=_("Date and time"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean(self):
        data = super().clean()
        if not data.get("addresses", "").strip() and not data.get("contact_list"):
            raise forms.ValidationError(_("Choose the contacts: type addresses or pick a list."))
        if data.get("when") == "later" and not data.get("send_at"):
            self.add_error("send_at", _("Choose when to send it."))
        return data

    def address_list(self) -> list[str]:
        text = self.cleaned_data.get("addresses", "")
        return list(dict.fromkeys(a.strip().lower() for a in text.replace(",", " ").split()))
