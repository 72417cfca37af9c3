"""No test replaces the project's own code: tests go through stable interfaces.

A test that swaps out one of the project's functions or module attributes (monkeypatch.setattr,
setattr, mock.patch, a plain assignment) breaks as soon as the code is reorganised, while the
behaviour it was after still holds, and it tests a program that never runs. Tests observe
and steer the product the way its callers do instead: queued jobs through Celery's
`before_task_publish` signal (`queued_jobs`), time by moving the rows' timestamps, other
databases by running on them, servers by the real ones or fakes of them (tests/fakes/).
Libraries may still be configured or patched (exchangelib's Autodiscovery, urllib3,
environment variables).

The scan reads every tests/**/*.py with ast; what an imported name is, it finds out by
importing it, so a project module reached through a test helper counts too.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PROJECT = frozenset({"mailboxes", "records", "privacy", "crm_mail", "sequences", "transactional"})
# Calls whose first argument is the object whose attribute is replaced (or a dotted path):
# monkeypatch.setattr / delattr, the builtins setattr / delattr, mock.patch.object / multiple.
ATTRIBUTE_SETTERS = frozenset({"setattr", "delattr", "object", "multiple"})
# Calls whose first argument is a mapping changed in place (or a dotted path to one).
ITEM_SETTERS = frozenset({"setitem", "delitem", "dict"})
_MISSING = object()


def is_project_name(dotted: str) -> bool:
    return dotted.split(".", 1)[0] in PROJECT


def is_project_object(obj) -> bool:
    """A project module, or a class, function or instance defined in one."""
    if isinstance(obj, types.ModuleType):
        return is_project_name(obj.__name__)
    if isinstance(obj, type | types.FunctionType | types.MethodType):
        return is_project_name(getattr(obj, "__module__", "") or "")
    # __class__, not type(): a lazy proxy (a Celery task before the app is finalized)
    # reports the class of what it stands for.
    return is_project_name(getattr(obj.__class__, "__module__", "") or "")


def resolve(dotted: str):
    """Import the longest module prefix of `dotted` and follow the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


class Scan(ast.NodeVisitor):
    """Collect (line, what) for each place a file patches the project."""

    def __init__(self, module: str) -> None:
        self.module = module  # dotted name of the file, for relative imports
        self.imports: dict[str, str] = {}
        self.found: list[tuple[int, str]] = []

    # -- what names stand for -------------------------------------------------------------

    def collect_imports(self, tree: ast.AST) -> None:
        # Every import in the file, at any depth: tests often import inside the test.
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        self.imports[root] = root
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = self.module.rsplit(".", node.level)[0]
                    base = f"{package}.{base}" if base else package
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{base}.{alias.name}"

    def dotted(self, node: ast.AST) -> str | None:
        """`a.b.c` of a Name/Attribute chain rooted at an imported name, else None."""
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.imports:
            return None
        return ".".join([self.imports[node.id], *reversed(attrs)])

    def patches_project(self, node: ast.AST, *, mapping: bool = False) -> str | None:
        """What `node` (the owner of a replaced attribute, or a changed mapping) names, when
        that is the project's."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value if is_project_name(node.value) else None
        dotted = self.dotted(node)
        if dotted is None:
            return None  # a local object of the test (a model row, a fake): its own business
        obj = resolve(dotted)
        if obj is _MISSING:  # gone from where the test looks: judged by its path
            return dotted if is_project_name(dotted) else None
        if is_project_object(obj):
            return dotted
        if mapping and isinstance(node, ast.Attribute):
            # A dict or list kept by a project module (e.g. a module-level cache).
            owner = resolve(dotted.rsplit(".", 1)[0])
            if owner is not _MISSING and is_project_object(owner):
                return dotted
        return None

    # -- where code is replaced -----------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        target = node.args[0] if node.args else None
        hit = None
        if target is not None and name in ATTRIBUTE_SETTERS:
            hit = self.patches_project(target)
        elif target is not None and name in ITEM_SETTERS:
            hit = self.patches_project(target, mapping=True)
        elif name == "patch" and isinstance(target, ast.Constant):
            hit = self.patches_project(target)  # mock.patch("mailboxes....")
        if hit:
            self.found.append((node.lineno, f"{name}({hit}, ...)"))
        self.generic_visit(node)

    def assigned(self, target: ast.AST, line: int) -> None:
        if isinstance(target, ast.Attribute):
            hit = self.patches_project(target.value)
            if hit:
                self.found.append((line, f"{hit}.{target.attr} = ..."))
        elif isinstance(target, ast.Subscript):
            hit = self.patches_project(target.value, mapping=True)
            if hit:
                self.found.append((line, f"{hit}[...] = ..."))
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.assigned(element, line)

    def visit_Assign(self, node: ast.Assign) -> None:  # noqa: N802
        for target in node.targets:
            self.assigned(target, node.lineno)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:  # noqa: N802
        self.assigned(node.target, node.lineno)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:  # noqa: N802
        for target in node.targets:
            self.assigned(target, node.lineno)
        self.generic_visit(node)


def scan(source: str, module: str = "tests.example") -> list[tuple[int, str]]:
    tree = ast.parse(source)
    visitor = Scan(module)
    visitor.collect_imports(tree)
    visitor.visit(tree)
    return visitor.found


def test_no_test_patches_the_projects_own_code():
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(TESTS.parent)
        module = ".".join(relative.with_suffix("").parts)
        for line, what in scan(path.read_text(), module):
            found.append(f"{relative}:{line}: {what}")
    assert found == [], "tests replace the project's own code:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        # A project function, a module attribute, an object's method, a task's .delay.
        "from mailboxes.outbox import sending\n"
        "def t(monkeypatch): monkeypatch.setattr(sending, 'send_due', None)",
        "from mailboxes.providers import imap_smtp\n"
        "def t(monkeypatch): monkeypatch.setattr(imap_smtp, 'BURST_SECONDS', 0.0)",
        "from mailboxes.tracking import buffer\n"
        "def t(monkeypatch): monkeypatch.setattr(buffer.process_buffer, 'add', print)",
        "def t(monkeypatch):\n"
        "    from mailboxes.outbox import tasks\n"
        "    monkeypatch.setattr(tasks.send_outbound, 'delay', print)",
        "from mailboxes.models import Mailbox\n"
        "def t(monkeypatch): monkeypatch.setattr(Mailbox, 'save', print)",
        # Dotted strings, mock.patch and its variants, the builtin setattr.
        "def t(monkeypatch): monkeypatch.setattr('mailboxes.jobs.later', print)",
        "from unittest import mock\n@mock.patch('mailboxes.outbox.sending.timezone')\ndef t(m): 0",
        "from unittest.mock import patch\n"
        "import mailboxes.outbox.throttle as throttle\n"
        "def t():\n    with patch.object(throttle, 'connection'): pass",
        "from crm_mail import health\ndef t(): setattr(health, 'check_broker', print)",
        # A plain assignment, a module-level dict changed in place.
        "from mailboxes.outbox import outcomes\ndef t(): outcomes.MAX_ATTEMPTS = 1",
        "from mailboxes.tracking import buffer\n"
        "def t(monkeypatch): monkeypatch.setitem(buffer._config, 'mode', 'redis')",
        "from mailboxes.tracking import buffer\ndef t(): buffer._config['mode'] = 'redis'",
        # Through a test helper that re-exports a project module.
        "import tests.mailboxes.outbox as helpers\n"
        "def t(monkeypatch): monkeypatch.setattr(helpers.Outbound, 'save', print)",
    ],
)
def test_the_scan_finds_patches_of_the_project(source):
    assert scan(source) != []


@pytest.mark.parametrize(
    "source",
    [
        # Libraries, the environment, Django's settings, the Celery app's configuration.
        "from exchangelib.autodiscover import Autodiscovery\n"
        "def t(monkeypatch): monkeypatch.setattr(Autodiscovery, '_get_srv_records', print)",
        "import urllib3\n"
        "def t(monkeypatch): monkeypatch.setattr(urllib3.util.connection, 'create_connection', 0)",
        "def t(monkeypatch): monkeypatch.setenv('OAUTHLIB_INSECURE_TRANSPORT', '1')",
        "import os\ndef t(monkeypatch): monkeypatch.setitem(os.environ, 'X', '1')",
        "from django.conf import settings\ndef t(): settings.PASSWORD_HASHERS = []",
        "from crm_mail.celery import app\ndef t(): app.conf.broker_url = 'memory://'",
        # The test's own objects: a model row, a fake server's handler.
        "def t(mailbox): setattr(mailbox, 'send_per_minute', 2)",
        "def t(sink): sink.handler.handle_DATA = print",
        "from tests.integration import servers\ndef t(): servers.NOBODY = 1",
    ],
)
def test_the_scan_lets_libraries_and_the_tests_own_objects_be(source):
    assert scan(source) == []
