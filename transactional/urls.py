"""Every page of the transactional app, under one namespace; each sub-package lists its own."""

from transactional.credentials import urls as credentials
from transactional.emails import urls as emails
from transactional.events import urls as events
from transactional.pool import urls as pool

app_name = "transactional"

urlpatterns = [
    *credentials.urlpatterns,
    *pool.urlpatterns,
    *emails.urlpatterns,
    *events.urlpatterns,
]
