"""Every word a user reads is written translatable, so an Italian (or any) UI needs a catalogue
and no edit of a template or a module (docs/architecture.md, "User-facing text").

Read statically, as test_architecture.py reads imports:
- templates: the text between tags and the attributes people read (title, aria-label,
  placeholder, alt, the confirmations) must come from `{% translate %}`,
  `{% blocktranslate %}` or a variable; code, scripts, styles and CSS-class blocks are not
  text;
- Python: the messages shown after an action (`django.contrib.messages`), `ValidationError`s,
  form fields' labels and help, models' verbose names, and the labels of choices must be
  `gettext`/`gettext_lazy` calls, not string literals; so must the sentences code stores for
  people to read later: a provider's error (`ProviderError`, shown on the connect page and as
  an inbox's or an email's error), an email's sending history and last error, an inbox's
  status reason, the `*_WORDS` constants (written in the deployment's language, CRM_LANGUAGE,
  when stored).

What stays as written: names of products and protocols (`PROPER`), which no translation
changes. The JSON API's errors are HubSpot's English by contract and are not read here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("crm_mail", "records", "privacy", "mailboxes", "sequences", "transactional")

# Words that are names, the same in every language; a text made only of them (and digits and
# punctuation) needs no translation.
PROPER = frozenset(
    """CRM Mail Gmail Google Workspace Microsoft Office Outlook Exchange EWS Graph IMAP SMTP
    POP HubSpot DKIM SPF DMARC TXT CNAME MX DNS CSV API APIs HTTP HTTPS TLS SSL STARTTLS OAuth
    JSON URL ID IDs curl Bearer OpenAPI Swagger UTF BOM Postfix Haraka Amazon SES Postmark
    Celery Redis PostgreSQL SQLite GDPR CC BCC Cc Bcc UTC HTML htmx http https www""".split()
)

# Attributes people read (or hear, through a screen reader).
READ_ATTRIBUTES = ("title", "aria-label", "aria-description", "placeholder", "alt")
CONFIRM_ATTRIBUTES = ("hx-confirm", "data-confirm", "data-copied", "data-label")

_COMMENTS = re.compile(
    r"{#.*?#}|{%\s*comment\b.*?%}.*?{%\s*endcomment\s*%}|<!--.*?-->", re.S | re.I
)
_BLOCK_TRANSLATE = re.compile(
    r"{%\s*blocktrans(?:late)?\b.*?%}.*?{%\s*endblocktrans(?:late)?\s*%}", re.S
)
_NOT_TEXT = re.compile(r"<(script|style|pre|code|svg|kbd|samp)\b.*?</\1\s*>", re.S | re.I)
# {% block main_class %}page wide{% endblock %}: CSS classes, not words.
_CLASS_BLOCK = re.compile(r"{%\s*block\s+\w*class\w*\s*%}.*?{%\s*endblock\b[^%]*%}", re.S)
_TAG = re.compile(r"{%.*?%}|{{.*?}}", re.S)
_HTML_TAG = re.compile(r"<[a-zA-Z!/][^>]*>", re.S)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENTITY = re.compile(r"&[#\w]+;")
_WORD = re.compile(r"[^\W\d_]{2,}")


def _words(text: str) -> list[str]:
    """The words of `text` that would need translating (not names, not single letters)."""
    words = _WORD.findall(_ENTITY.sub(" ", text))
    return [] if all(w in PROPER for w in words) else words


def untranslated_in_template(source: str) -> list[str]:
    """The untranslated texts of a template: each as it reads, shortened."""
    source = _COMMENTS.sub(" ", source)
    source = _BLOCK_TRANSLATE.sub(" ", source)
    source = _NOT_TEXT.sub(" ", source)
    source = _CLASS_BLOCK.sub(" ", source)
    # Template tags and variables are translated or data; a placeholder keeps attribute
    # values whole ({% translate "x" %} inside an attribute has quotes of its own).
    source = _TAG.sub("\x00", source)
    found = []
    for tag in _HTML_TAG.findall(source):
        for name, double, single in _ATTRIBUTE.findall(tag):
            value = double or single
            if name.lower() in READ_ATTRIBUTES + CONFIRM_ATTRIBUTES and _words(value):
                found.append(f'{name}="{value.replace(chr(0), "…")}"')
    for text in _HTML_TAG.sub("\x00", source).split("\x00"):
        if _words(text):
            found.append(" ".join(text.split()))
    return [f[:70] for f in found]


def _templates() -> list[Path]:
    dirs = [ROOT / "templates", *(ROOT / app / "templates" for app in APPS)]
    return sorted(p for d in dirs for p in d.rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_template_text_is_translatable(path):
    found = untranslated_in_template(path.read_text())
    assert not found, f"{path.relative_to(ROOT)}: untranslated: " + " | ".join(found)


# --- Python ------------------------------------------------------------------------------

MESSAGE_CALLS = {"success", "error", "info", "warning", "debug"}
TEXT_KEYWORDS = {"label", "help_text", "empty_label", "verbose_name", "verbose_name_plural"}
CHOICES_BASES = {"TextChoices", "IntegerChoices", "Choices"}
# Calls whose first argument is a sentence a person reads later, and the argument's place.
STORED_CALLS = {
    "ProviderError": 0,
    # A sentence of a module that imports nothing of Django: its template marked by the
    # module's own gettext_noop, so makemessages finds it.
    "Sentence": 0,
    "mark_needs_reconnect": 0,
    "mark_error": 0,
    "set_status": 1,
    "record": 2,
}
# Fields (given as keywords) that hold sentences shown on pages.
STORED_KEYWORDS = {
    "last_error",
    "detail",
    "status_reason",
    "bounce_reason",
    "match_detail",
    "reason",
    "error",
}
# HubSpot's JSON errors, English by contract.
NOT_STORED = ("transactional/api/",)


def _is_literal_text(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_words(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_is_literal_text(v) for v in node.values)
    return False


_PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")


def _is_sentence(node: ast.AST) -> bool:
    """Literal text of more than one word (a code such as "consent" is not a sentence)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = _PLACEHOLDER.sub(" ", node.value)  # "%(why)s %(note)s" is no sentence
        return " " in text.strip() and bool(_words(text))
    if isinstance(node, ast.JoinedStr):
        return any(_is_literal_text(v) for v in node.values)
    if isinstance(node, ast.BinOp):  # "…" + x, or "… %s" % x
        return _is_sentence(node.left) or _is_sentence(node.right)
    return False


def _stored_literals(node: ast.Call, name: str) -> list[str]:
    found = []
    place = STORED_CALLS.get(name)
    if place is not None and len(node.args) > place and _is_sentence(node.args[place]):
        found.append(f"line {node.lineno}: {name}")
    for keyword in node.keywords:
        if keyword.arg in STORED_KEYWORDS and _is_sentence(keyword.value):
            found.append(f"line {node.lineno}: {keyword.arg}=")
    return found


def _words_constants(tree: ast.Module) -> list[str]:
    """Module constants named *WORDS holding literal sentences (alone or as a dict's values)."""
    found = []
    for statement in tree.body:
        if not isinstance(statement, ast.Assign):
            continue
        names = [getattr(t, "id", "") for t in statement.targets]
        if not any(n.endswith("WORDS") for n in names):
            continue
        value = statement.value
        values = value.values if isinstance(value, ast.Dict) else [value]
        if any(_is_sentence(v) for v in values):
            found.append(f"line {statement.lineno}: {names[0]}")
    return found


def untranslated_in_module(source: str, stored: bool = True) -> list[str]:
    """Lines of a module where user-facing text is a literal instead of a gettext call
    (`stored`: the sentences stored for people to read too)."""
    tree = ast.parse(source)
    found = _words_constants(tree) if stored else []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if stored:
                found += _stored_literals(node, name)
            owner = func.value if isinstance(func, ast.Attribute) else None
            if (
                name in MESSAGE_CALLS
                and isinstance(owner, ast.Name)
                and owner.id == "messages"
                and len(node.args) > 1
                and _is_literal_text(node.args[1])
            ):
                found.append(f"line {node.lineno}: messages.{name}")
            if name == "ValidationError" and node.args and _is_literal_text(node.args[0]):
                found.append(f"line {node.lineno}: ValidationError")
            for keyword in node.keywords:
                if keyword.arg in TEXT_KEYWORDS and _is_literal_text(keyword.value):
                    found.append(f"line {node.lineno}: {keyword.arg}=")
        elif isinstance(node, ast.ClassDef) and any(
            getattr(b, "attr", getattr(b, "id", "")) in CHOICES_BASES for b in node.bases
        ):
            for statement in node.body:
                value = getattr(statement, "value", None)
                if (
                    isinstance(statement, ast.Assign)
                    and isinstance(value, ast.Tuple)
                    and len(value.elts) > 1
                    and _is_literal_text(value.elts[-1])
                ):
                    found.append(f"line {statement.lineno}: choice label")
        elif isinstance(node, ast.ClassDef) and node.name == "Meta":
            for statement in node.body:
                targets = getattr(statement, "targets", [])
                if (
                    isinstance(statement, ast.Assign)
                    and any(getattr(t, "id", "") in TEXT_KEYWORDS for t in targets)
                    and _is_literal_text(statement.value)
                ):
                    found.append(f"line {statement.lineno}: Meta text")
    return sorted(found, key=lambda f: int(f.split()[1].rstrip(":")))


def _modules() -> list[Path]:
    return sorted(
        p
        for app in APPS
        for p in (ROOT / app).rglob("*.py")
        if "migrations" not in p.parts and "management" not in p.parts
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_text_is_translatable(path):
    relative = path.relative_to(ROOT).as_posix()
    found = untranslated_in_module(path.read_text(), stored=not relative.startswith(NOT_STORED))
    assert not found, f"{path.relative_to(ROOT)}: untranslated: " + "; ".join(found)


# --- the checker itself --------------------------------------------------------------------


def test_the_template_check_finds_text_and_attributes_and_leaves_the_rest():
    assert untranslated_in_template("<p>Save</p>") == ["Save"]
    assert untranslated_in_template('<button aria-label="Close">×</button>') == [
        'aria-label="Close"'
    ]
    assert untranslated_in_template('<a title="Email from {{ a }}">x</a>') == [
        'title="Email from …"'
    ]
    clean = (
        '{% load i18n %}{% block main_class %}page wide{% endblock %}<p>{% translate "Save" %}'
        '</p><button aria-label="{% translate "Close" %}">×</button>{# Note to self #}'
        "{% blocktranslate %}Hi {{ name }}{% endblocktranslate %}<code>curl -X POST</code>"
        "<p>{{ value }} · 12 &middot; IMAP SMTP</p><script>let shown = true;</script>"
    )
    assert untranslated_in_template(clean) == []


def test_the_module_check_finds_literals_and_leaves_gettext():
    found = untranslated_in_module(
        "from django.contrib import messages\n"
        "messages.success(request, f'Saved {x}.')\n"
        "raise ValidationError('Bad value.')\n"
        "field = forms.CharField(label='Name', help_text=_('Fine.'))\n"
        "class Kind(models.TextChoices):\n"
        "    A = 'a', 'First kind'\n"
        "    B = 'b', _('Second kind')\n"
    )
    assert found == [
        "line 2: messages.success",
        "line 3: ValidationError",
        "line 4: label=",
        "line 6: choice label",
    ]
    assert untranslated_in_module("messages.success(request, _('Saved.'))\nlog.info('x', y)") == []


def test_the_module_check_finds_stored_sentences_and_leaves_codes():
    found = untranslated_in_module(
        "GONE_WORDS = 'The inbox is gone.'\n"
        "REASON_WORDS = {'a': 'Mailbox full.', 'b': _('Unknown user.')}\n"
        "raise ProviderError(f'Could not resolve {host}.', stage='dns')\n"
        "record(row, kind, 'Found in Sent.')\n"
        "Outbound.objects.update(last_error='Try again ' + when, status='failed')\n"
        "mailbox.mark_needs_reconnect(error.message)\n"
        "Consent.objects.create(reason='consent', detail=_('Given on the form.'))\n"
        "why = Sentence('%(why)s %(note)s', why=why, note=note)\n"
        "where = Sentence('reading messages in %(folder)s', folder=folder)\n"
        "there = Sentence(gettext_noop('opening %(folder)s'), folder=folder)\n"
    )
    assert found == [
        "line 1: GONE_WORDS",
        "line 2: REASON_WORDS",
        "line 3: ProviderError",
        "line 4: record",
        "line 5: last_error=",
        "line 9: Sentence",
    ]
