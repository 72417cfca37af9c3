"""Who may use, see and change templates, snippets and signatures, and the HTML they hand out.

Templates and snippets have a sharing scope (`mailboxes.constants.Sharing`): private (the
owner only), team (the owner's team) or everyone. A signature is its owner's alone. Every read
goes through here: the composer's menus and its template endpoint use `usable`, the settings
lists `listed`, edit and delete `can_edit`. Only a seat that may reach out (not View-only)
creates or changes any of them; an admin may also edit and delete every shared one, so a
harmful one can be taken down.

Their bodies are HTML written by users and inserted into the composer in other users' pages:
they are sanitized when saved (the forms) and again on the way out (`body_html`), so rows
saved before the sanitizer covered them are safe too. A body written as plain text (rows saved
from the old plain textarea) keeps its line breaks: they become paragraphs and <br>
(`rich_text`), where HTML would run the lines together.
"""

import re

from django.db.models import Q, QuerySet
from django.utils.html import linebreaks

from mailboxes.constants import Sharing
from mailboxes.mime import sanitize
from mailboxes.models import Signature


def _shared(model) -> bool:
    return model is not Signature


def _usable_scope(user) -> Q:
    scope = Q(owner=user) | Q(sharing=Sharing.EVERYONE)
    if user.team_id is not None:
        scope |= Q(sharing=Sharing.TEAM, owner__team_id=user.team_id)
    return scope


def usable(model, user) -> QuerySet:
    """What `user` may write from: their own, their team's and everyone's."""
    if not _shared(model):
        return model.objects.filter(owner=user)
    return model.objects.filter(_usable_scope(user))


def listed(model, user) -> QuerySet:
    """What the settings page lists: what `user` may use, and for admins every shared one."""
    if not _shared(model):
        return model.objects.filter(owner=user)
    scope = _usable_scope(user)
    if user.is_staff:
        scope |= ~Q(sharing=Sharing.PRIVATE)
    return model.objects.filter(scope).select_related("owner")


def can_create(user) -> bool:
    """View-only seats neither create nor change templates, snippets or signatures."""
    return user.can_reach_out


def can_edit(user, item) -> bool:
    """The owner edits and deletes; an admin also every shared template and snippet."""
    if not can_create(user):
        return False
    if item.owner_id == user.pk:
        return True
    return user.is_staff and _shared(type(item)) and item.sharing != Sharing.PRIVATE


# A tag that breaks lines: a body with none of them is plain text whose line breaks count.
_LINE_TAGS = re.compile(r"<(?:br|p|div|li|tr|pre|blockquote|h[1-6])\b", re.IGNORECASE)


def rich_text(body: str) -> str:
    """A body as sanitized HTML, its line breaks kept when it was written as plain text."""
    if "\n" in body.strip() and not _LINE_TAGS.search(body):
        body = linebreaks(body.strip())
    return sanitize.sanitize_html(body)


def body_html(item) -> str:
    """The body, sanitized again: what the composer inserts into the page."""
    return rich_text(item.body)
