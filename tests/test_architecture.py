"""The import rules of docs/architecture.md, checked on the source of every product module.

Every import statement counts, at module level or inside a function: a deferred import is
still a dependency. tests/ and bench/ are not product code and are not read.

The boundary of mailboxes/providers (reached only through its registry, importing nothing of
the CRM) has its own test, tests/mailboxes/test_provider_boundaries.py.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("crm_mail", "records", "privacy", "mailboxes", "sequences", "transactional")

# What each app may import, itself included (docs/architecture.md, "Layers").
MAY_IMPORT = {
    "records": {"records"},
    "privacy": {"privacy", "records"},
    "mailboxes": {"mailboxes", "privacy", "records"},
    "sequences": {"sequences", "mailboxes", "privacy", "records"},
    "transactional": {"transactional", "mailboxes", "privacy", "records"},
    "crm_mail": set(APPS),
}
# Modules at the top of mailboxes/ that only collect what the sub-packages declare.
AGGREGATORS = {"mailboxes", *(f"mailboxes.{name}" for name in ("tasks", "urls", "apps", "admin"))}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted name of the importing module
    target: str  # the module it imports: a product module, or a library's top-level name
    where: str  # path:line
    in_product: bool

    def __str__(self) -> str:
        return f"{self.where} {self.importer} -> {self.target}"


def product_modules(root: Path) -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _known(modules: dict, dotted: str) -> str | None:
    """The product module `dotted` names, or the package holding it (an attribute import)."""
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def imports(root: Path = ROOT) -> list[Import]:
    modules = product_modules(root)
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        where = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from package import module` imports the module; otherwise the package.
                targets = [
                    f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                    for alias in node.names
                ]
            else:
                continue
            for target in dict.fromkeys(targets):
                known = _known(modules, target)
                found.append(
                    Import(
                        importer=name,
                        target=known or target.split(".")[0],
                        where=f"{where}:{node.lineno}",
                        in_product=known is not None,
                    )
                )
    return found


def _app(module: str) -> str:
    return module.split(".")[0]


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations(found: list[Import]) -> list[Import]:
    return [i for i in found if i.in_product and _app(i.target) not in MAY_IMPORT[_app(i.importer)]]


def cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(component: list[str], edges) -> str:
    members = set(component)
    lines = [
        f"  {a} -> {b}: {', '.join(where)}"
        for a in component
        for b, where in sorted(edges.get(a, {}).items())
        if b in members
    ]
    return " / ".join(component) + "\n" + "\n".join(lines)


def module_graph(found: list[Import]):
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for i in found:
        if i.in_product and i.target != i.importer:
            edges[i.importer][i.target].append(i.where)
    return edges


def subpackage(module: str) -> str | None:
    """`mailboxes.<x>` for any module of mailboxes: its sub-package, or a top-level module."""
    parts = module.split(".")
    if parts[0] != "mailboxes":
        return None
    return ".".join(parts[:2])


def subpackage_graph(found: list[Import]):
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for i in found:
        if not i.in_product or i.importer in AGGREGATORS:
            continue
        a, b = subpackage(i.importer), subpackage(i.target)
        if a and b and a != b:
            edges[a][b].append(i.where)
    return edges


FOUND = imports()


# -- the checker itself ---------------------------------------------------------------------


def test_the_checker_sees_every_form_of_import(tmp_path):
    for app in APPS:
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
    (tmp_path / "records" / "core.py").write_text(
        "from . import helpers\n"
        "def later():\n"
        "    from mailboxes.sync import engine\n"
        "    import privacy.checks as checks\n"
    )
    (tmp_path / "records" / "helpers.py").write_text("from .core import later\nimport django\n")
    (tmp_path / "mailboxes" / "sync").mkdir()
    (tmp_path / "mailboxes" / "sync" / "__init__.py").write_text("")
    (tmp_path / "mailboxes" / "sync" / "engine.py").write_text("from records.core import later\n")
    (tmp_path / "privacy" / "checks.py").write_text("X = 1\n")
    found = imports(tmp_path)
    assert {(i.importer, i.target, i.where) for i in found if i.in_product} == {
        ("records.core", "records.helpers", "records/core.py:1"),
        ("records.core", "mailboxes.sync.engine", "records/core.py:3"),
        ("records.core", "privacy.checks", "records/core.py:4"),
        ("records.helpers", "records.core", "records/helpers.py:1"),
        ("mailboxes.sync.engine", "records.core", "mailboxes/sync/engine.py:1"),
    }
    assert [str(i) for i in layer_violations(found)] == [
        "records/core.py:3 records.core -> mailboxes.sync.engine",
        "records/core.py:4 records.core -> privacy.checks",
    ]
    assert cycles(module_graph(found)) == [
        ["mailboxes.sync.engine", "records.core", "records.helpers"]
    ]


def test_the_checker_sees_the_rules_inside_mailboxes(tmp_path):
    files = {
        "mailboxes/__init__.py": "",
        "mailboxes/tasks.py": "from mailboxes.outbox import sending\nimport mailboxes.sync.x\n",
        "mailboxes/outbox/__init__.py": "",
        "mailboxes/outbox/sending.py": "from mailboxes.connecting import connections\n",
        "mailboxes/outbox/throttle.py": "",
        "mailboxes/connecting/__init__.py": "",
        "mailboxes/connecting/connections.py": (
            "from mailboxes.providers import get_provider\n"
            "from mailboxes.providers.base import MailProvider\n"
            "def build():\n"
            "    from mailboxes.providers.gmail import GmailSettings\n"
        ),
        "mailboxes/connecting/views.py": "from mailboxes.outbox import throttle\n",
        "mailboxes/sync/__init__.py": "",
        "mailboxes/sync/x.py": "from mailboxes import tasks\n",
        "mailboxes/mime/__init__.py": "",
        "mailboxes/mime/parsing.py": "",
        "mailboxes/providers/__init__.py": "from mailboxes.providers.base import MailProvider\n",
        "mailboxes/providers/base.py": "import abc\n",
        "mailboxes/providers/gmail.py": (
            "import requests\nfrom django.conf import settings\n"
            "from mailboxes.mime.parsing import CONTROL_CHARS\n"
            "from mailboxes.providers.base import MailProvider\n"
        ),
    }
    for app in APPS:
        (tmp_path / app).mkdir()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = imports(tmp_path)
    # sync -> tasks -> sync goes through the aggregator, which is not followed.
    assert cycles(subpackage_graph(found)) == [["mailboxes.connecting", "mailboxes.outbox"]]


def test_the_checker_reads_the_product():
    importers = {i.importer for i in FOUND}
    # A checker that reads nothing would pass every rule below.
    assert {"records.timeline", "mailboxes.outbox.enqueue", "crm_mail.settings"} <= importers
    assert any(i.target == "records.timeline" for i in FOUND if i.importer.startswith("mailboxes"))


# -- layers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("app", APPS)
def test_app_imports_only_the_layers_below_it(app):
    crossing = [str(i) for i in layer_violations(FOUND) if _app(i.importer) == app]
    allowed = ", ".join(sorted(MAY_IMPORT[app]))
    assert not crossing, f"{app} may import only {allowed}:\n" + "\n".join(crossing)


# -- cycles ---------------------------------------------------------------------------------


def test_no_import_cycle_between_modules():
    edges = module_graph(FOUND)
    found = [describe(c, edges) for c in cycles(edges)]
    assert not found, "Import cycles between modules:\n" + "\n".join(found)


def test_no_import_cycle_between_the_subpackages_of_mailboxes():
    edges = subpackage_graph(FOUND)
    found = [describe(c, edges) for c in cycles(edges)]
    assert not found, "Import cycles between sub-packages of mailboxes:\n" + "\n".join(found)
