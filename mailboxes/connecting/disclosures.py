"""What each connection lets the product see, shown before the user connects."""

from django.utils.translation import gettext_lazy as _

from mailboxes.constants import Provider

DISCLOSURES = {
    Provider.GMAIL: _(
        "Connecting your Google account lets CRM Mail read and send Gmail messages on your "
        "behalf: email headers, subjects, bodies and your send-as aliases. Emails exchanged "
        "with CRM contacts are logged on their records, where your teammates can see them. "
        "You can disconnect at any time here, or revoke access from your Google account."
    ),
    Provider.OFFICE365: _(
        "Connecting your Office 365 account lets CRM Mail read and send email on your behalf "
        "through Microsoft Graph: headers, subjects, bodies and mailbox settings. Emails "
        "exchanged with CRM contacts are logged on their records, visible to your teammates. "
        "Shared mailboxes of Office 365 cannot be connected."
    ),
    Provider.EXCHANGE: _(
        "Connecting Exchange stores your email address, password and server details "
        "(encrypted) so CRM Mail can read and send email through Exchange Web Services. These "
        "credentials could also reach your calendar and contacts; CRM Mail reads only email."
    ),
    Provider.IMAP: _(
        "Connecting over IMAP and SMTP stores your email address, password and server details "
        "(encrypted). CRM Mail reads message headers and bodies to log emails exchanged with "
        "CRM contacts, and sends the email you write in the CRM through your SMTP server."
    ),
}
