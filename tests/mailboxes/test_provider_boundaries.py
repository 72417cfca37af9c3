"""providers/ is self-contained: the product reaches adapters only through the registry.

Two rules, checked on the source (the AST of every module of the product's packages; tests
and bench may import adapters directly):

(a) outside `mailboxes/providers/`, a module imports only the registry (`mailboxes.providers`)
    and the interface (`mailboxes.providers.base`), never an adapter module, an OAuth flow or
    another helper of providers/; the MIME parser alone reads the header rules from
    `mailboxes.providers.headers`, which it shares with the adapters;
(b) inside `mailboxes/providers/`, nothing is imported from the CRM: no `mailboxes.*` outside
    providers/, no records, privacy, crm_mail, sequences or transactional, and no Django.
"""

import ast
import tomllib
from pathlib import Path

import pytest

from mailboxes.connecting.connections import SETTINGS_BUILDERS
from mailboxes.constants import Provider
from mailboxes.providers import OAUTH_FLOWS, PROVIDERS, oauth, provider_class, settings_class

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS_PACKAGE = "mailboxes.providers"
# What any module outside providers/ may import from it.
OPEN_TO_ALL = {PROVIDERS_PACKAGE, f"{PROVIDERS_PACKAGE}.base"}
# Shared modules of providers/ that one part of the product may import as well.
OPEN_TO = {f"{PROVIDERS_PACKAGE}.headers": "mailboxes.mime"}
CRM_PACKAGES = ("mailboxes", "records", "privacy", "crm_mail", "sequences", "transactional")
FORBIDDEN_IN_PROVIDERS = (*CRM_PACKAGES, "django")


def product_packages() -> list[str]:
    """The packages pyproject.toml installs: the product, without tests and bench."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(pattern.rstrip("*") for pattern in include)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module `source` imports, as absolute names.

    `from p import name` gives `p` and `p.name` (`name` may be a submodule); a string naming
    a module of providers/ counts too (`import_module("mailboxes.providers.gmail")`).
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(base)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(PROVIDERS_PACKAGE + "."):
                found.append(node.value)
    return found


def provider_modules() -> set[str]:
    """The modules and sub-packages of providers/, by their dotted names."""
    folder = ROOT / "mailboxes" / "providers"
    return {module_name(p) for p in folder.rglob("*.py")} - {PROVIDERS_PACKAGE}


def boundary_errors(module: str, source: str, is_package: bool = False) -> list[str]:
    """The imports of `module` that break rule (a) or (b), one line per module imported."""
    inside = module == PROVIDERS_PACKAGE or module.startswith(PROVIDERS_PACKAGE + ".")
    submodules = provider_modules()
    errors = []
    reported: list[str] = []
    for name in imported_modules(source, module, is_package):
        if any(name == r or name.startswith(r + ".") for r in reported):
            continue
        if inside:
            top = name.split(".")[0]
            crm = top in FORBIDDEN_IN_PROVIDERS and not (
                name == PROVIDERS_PACKAGE or name.startswith(PROVIDERS_PACKAGE + ".")
            )
            if crm:
                reported.append(name)
                errors.append(f"{module} imports {name}: providers/ imports nothing of the CRM")
            continue
        # The module of providers/ the name is in ("mailboxes.providers.gmail.GmailSettings").
        within = [m for m in submodules if name == m or name.startswith(m + ".")]
        target = max(within, key=len, default=None)
        if target is None or target in OPEN_TO_ALL:
            continue
        allowed_for = OPEN_TO.get(target)
        if allowed_for and (module == allowed_for or module.startswith(allowed_for + ".")):
            continue
        reported.append(target)
        errors.append(
            f"{module} imports {target}: outside providers/, use the registry "
            f"({PROVIDERS_PACKAGE}) or {PROVIDERS_PACKAGE}.base"
        )
    return errors


def product_modules() -> list[tuple[str, Path]]:
    modules = []
    for package in product_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            modules.append((module_name(path), path))
    return modules


def test_the_walk_covers_the_product_and_providers():
    names = {name for name, _path in product_modules()}
    assert "mailboxes.connecting.connections" in names
    assert "mailboxes.mime.parsing" in names
    assert {f"{PROVIDERS_PACKAGE}.{m}" for m in ("base", "gmail", "ews", "headers")} <= names
    assert "tests" not in {name.split(".")[0] for name in names}
    assert "bench" not in {name.split(".")[0] for name in names}


def test_modules_respect_the_provider_boundaries():
    errors = []
    for name, path in product_modules():
        errors += boundary_errors(name, path.read_text(), path.name == "__init__.py")
    assert errors == []


@pytest.mark.parametrize(
    "module, source",
    [
        ("mailboxes.connecting.views.oauth", "from mailboxes.providers.gmail import GmailSettings"),
        ("mailboxes.connecting.views.oauth", "from mailboxes.providers import google_oauth"),
        ("mailboxes.connecting.views.connect", "import mailboxes.providers.ews_urls"),
        ("mailboxes.connecting.views.connect", "from ...providers import ews"),
        ("mailboxes.sync.engine", "from ..providers.google_oauth import revoke"),
        ("mailboxes.sync.engine", "import_module('mailboxes.providers.graph')"),
        ("mailboxes.bounces.reports", "from mailboxes.providers.headers import decode_bytes"),
        ("mailboxes.providers.gmail", "from mailboxes.mime.parsing import CONTROL_CHARS"),
        ("mailboxes.providers.gmail", "from ..mime import parsing"),
        ("mailboxes.providers.graph", "from django.conf import settings"),
        ("mailboxes.providers.ews", "from records.models import Contact"),
    ],
)
def test_the_check_catches_a_crossing(module, source):
    assert boundary_errors(module, source)


@pytest.mark.parametrize(
    "module, source",
    [
        ("mailboxes.connecting.views.oauth", "from mailboxes.providers import oauth"),
        ("mailboxes.outbox.sending", "from mailboxes.providers.base import ProviderError"),
        ("mailboxes.connecting.connections", "from mailboxes import providers"),
        ("mailboxes.connecting.connections", "from ..providers import get_provider"),
        ("mailboxes.mime.parsing", "from mailboxes.providers.headers import decode_bytes"),
        ("mailboxes.providers.gmail", "from mailboxes.providers.headers import CONTROL_CHARS"),
        ("mailboxes.providers.graph", "from . import microsoft_oauth"),
    ],
)
def test_the_check_lets_the_registry_and_the_interface_through(module, source):
    assert boundary_errors(module, source) == []


def test_every_kind_has_an_adapter_a_settings_class_and_one_builder():
    assert set(PROVIDERS) == set(Provider.values) == set(SETTINGS_BUILDERS)
    for kind in PROVIDERS:
        assert provider_class(kind).kind == kind
        assert isinstance(settings_class(kind), type)
    for kind in OAUTH_FLOWS:
        assert oauth(kind).__name__.startswith(PROVIDERS_PACKAGE + ".")
    with pytest.raises(ValueError):
        oauth("imap")


@pytest.mark.parametrize(
    "kind, config, secret",
    [
        (
            "imap",
            {
                "imap_host": "imap.example.test",
                "imap_port": 993,
                "imap_security": "ssl",
                "smtp_host": "smtp.example.test",
                "smtp_port": 587,
                "smtp_security": "starttls",
            },
            {"password": "pw"},
        ),
        ("gmail", {}, {"refresh_token": "r", "expiry": "2025-07-01T10:00:00+00:00"}),
        ("office365", {}, {"access_token": "a", "refresh_token": "r", "expires_at": 5}),
        ("exchange", {"ews_url": "https://mail.example.test/EWS/Exchange.asmx"}, {"password": "p"}),
        ("demo", {}, {}),
    ],
)
def test_each_builder_fills_in_its_adapters_settings(kind, config, secret):
    built = SETTINGS_BUILDERS[kind](config, secret, "ana@example.test")
    assert type(built) is settings_class(kind)
    assert built.email == "ana@example.test"
