"""The composer on a record and the settings pages of its library (templates, snippets,
signatures)."""

from django.urls import path, re_path

from mailboxes.composer.views import composer, content

_record = "records/<slug:type_slug>/<int:pk>/"
_library = r"^settings/email/(?P<kind>templates|snippets|signatures)/"

urlpatterns = [
    path(_record + "email/", composer.compose, name="compose"),
    path(
        _record + "email/templates/<int:template_pk>/",
        composer.insert_template,
        name="insert-template",
    ),
    re_path(_library + r"$", content.content_list, name="content"),
    re_path(_library + r"(?P<pk>\d+)/$", content.content_edit, name="content-edit"),
    re_path(_library + r"(?P<pk>\d+)/delete/$", content.content_delete, name="content-delete"),
]
