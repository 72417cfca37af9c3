from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("health/", views.health_view, name="health"),
    path("settings/health/", views.system_health, name="system-health"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    path("dev/mail/", views.dev_mail, name="dev-mail"),
    path("dev/mail/<str:name>", views.dev_mail, name="dev-mail-open"),
    path("t/", include("mailboxes.tracking.urls")),
    # The single-send HTTP API (its own namespace: django-ninja's), before the pages: its
    # machine clients call it at a high rate, and each pattern tried costs every call.
    path("", include("transactional.api.urls")),
    path("", include("mailboxes.urls")),
    path("", include("privacy.urls")),
    path("sequences/", include("sequences.urls")),
    path("", include("transactional.urls")),
    path("", include("records.urls")),
]
