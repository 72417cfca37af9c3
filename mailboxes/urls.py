"""Every page of the mailboxes app, under one namespace; each sub-package lists its own."""

from mailboxes.composer import urls as composer
from mailboxes.connecting import urls as connecting
from mailboxes.conversations import urls as conversations
from mailboxes.ledger import urls as ledger
from mailboxes.logging_rules import urls as logging_rules
from mailboxes.reports import urls as reports
from mailboxes.timeline import urls as timeline

app_name = "mailboxes"

urlpatterns = (
    connecting.urlpatterns
    + composer.urlpatterns
    + timeline.urlpatterns
    + ledger.urlpatterns
    + logging_rules.urlpatterns
    + conversations.urlpatterns
    + reports.urlpatterns
)
