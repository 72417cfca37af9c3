"""The email reports: the top bar's "Reports"."""

from django.urls import path

from mailboxes.reports import views

urlpatterns = [
    path("reports/email/", views.email_report, name="reports"),
    path("reports/email.csv", views.email_report_csv, name="reports-csv"),
]
