"""The Automation tab, under /sequences/<pk>/automation/ (namespace "sequences")."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:pk>/automation/", views.automation, name="automation"),
    path("<int:pk>/automation/<int:rule_pk>/toggle/", views.rule_toggle, name="rule-toggle"),
    path("<int:pk>/automation/<int:rule_pk>/delete/", views.rule_delete, name="rule-delete"),
]
