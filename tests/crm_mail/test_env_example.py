""".env.example and README's Configuration section name every environment variable the product
reads, and .env.example names nothing else.

The reads are found in the source with ast: calls of the helpers in crm_mail/env.py and of
os.environ / os.getenv, in every product module (tests/ and bench/ set up their own
environment and are not read).
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("crm_mail", "records", "privacy", "mailboxes", "sequences", "transactional")
HELPERS = {"env_str", "env_bool", "env_int", "env_list"}
# Read from the environment, but not settings an operator gives.
NOT_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "set by manage.py, wsgi.py, asgi.py and celery.py themselves",
    "RUN_MAIN": "set by Django's autoreloader in the process it restarts",
}
# The helpers' own bodies read a parameter, not a name.
HELPER_MODULE = Path("crm_mail/env.py")
LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def product_files() -> list[Path]:
    files = [ROOT / "manage.py"]
    for package in PRODUCT:
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ`."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _name_argument(node: ast.AST):
    """The node that names the variable, for any form of environment read; None otherwise."""
    if isinstance(node, ast.Call):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        reads_environ = isinstance(func, ast.Attribute) and _is_environ(func.value)
        if (
            called in HELPERS
            or called == "getenv"
            or (reads_environ and called in ("get", "setdefault", "pop"))
        ):
            return node.args[0] if node.args else ast.Constant(None)
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return node.slice
    if (
        isinstance(node, ast.Compare)
        and len(node.comparators) == 1
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and _is_environ(node.comparators[0])
    ):
        return node.left
    return None


def environment_reads(source: str, path: str) -> tuple[dict[str, list[str]], list[str]]:
    """Variables read in `source` (name -> where), and reads whose name is not a literal."""
    found: dict[str, list[str]] = {}
    unreadable = []
    for node in ast.walk(ast.parse(source)):
        argument = _name_argument(node)
        if argument is None:
            continue
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found.setdefault(argument.value, []).append(f"{path}:{node.lineno}")
        else:
            unreadable.append(f"{path}:{node.lineno}")
    return found, unreadable


def read_by_product() -> tuple[dict[str, list[str]], list[str]]:
    found: dict[str, list[str]] = {}
    unreadable = []
    for file in product_files():
        relative = file.relative_to(ROOT)
        names, bad = environment_reads(file.read_text(), str(relative))
        for name, where in names.items():
            found.setdefault(name, []).extend(where)
        if relative != HELPER_MODULE:
            unreadable += bad
    return found, unreadable


def settings_read() -> dict[str, list[str]]:
    found, _ = read_by_product()
    return {name: where for name, where in found.items() if name not in NOT_SETTINGS}


def env_example() -> dict[str, str]:
    """Variable -> its line, for every `NAME=value` line of .env.example."""
    listed = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = LINE.match(line.strip())
        if match:
            listed[match.group(1)] = line
    return listed


def readme_configuration() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Configuration\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_the_scan_finds_every_form_of_read():
    source = "\n".join(
        [
            "import os",
            "from os import environ, getenv",
            "from crm_mail.env import env_bool, env_int, env_list, env_str",
            "A = env_str('A_STR', 'x')",
            "B = env_bool('B_BOOL', False)",
            "C = env_int('C_INT', 1)",
            "D = env_list('D_LIST')",
            "E = os.environ.get('E_GET')",
            "F = os.getenv('F_GETENV')",
            "G = os.environ['G_ITEM']",
            "H = environ.get('H_BARE')",
            "I = 'I_IN' in os.environ",
            "J = getenv('J_BARE')",
            "os.environ.setdefault('K_DEFAULT', 'x')",
            "L = env_str(some_name)",
            "M = settings.NOT_ENV",
            "N = {'O_NOT_ENV': 1}.get('O_NOT_ENV')",
        ]
    )
    found, unreadable = environment_reads(source, "example.py")
    assert sorted(found) == [
        "A_STR",
        "B_BOOL",
        "C_INT",
        "D_LIST",
        "E_GET",
        "F_GETENV",
        "G_ITEM",
        "H_BARE",
        "I_IN",
        "J_BARE",
        "K_DEFAULT",
    ]
    assert found["C_INT"] == ["example.py:6"]
    assert unreadable == ["example.py:15"]


def test_the_scan_sees_the_settings_module():
    read = settings_read()
    # A scan that finds nothing would pass every test below.
    assert {"DATABASE_URL", "GOOGLE_CLIENT_ID", "CRM_HTML_SANITIZER"} <= set(read)
    assert read["DJANGO_SECRET_KEY"][0].startswith("crm_mail/settings.py:")


def test_every_read_names_its_variable_literally():
    _, unreadable = read_by_product()
    assert not unreadable, (
        "Environment reads whose variable name is not a string literal cannot be checked "
        "against .env.example; name the variable in the call: " + ", ".join(unreadable)
    )


def test_env_example_lists_every_variable_the_code_reads():
    listed = env_example()
    missing = {name: where for name, where in settings_read().items() if name not in listed}
    assert not missing, "Add these to .env.example, with their default and a comment: " + (
        "; ".join(f"{name} (read at {', '.join(where)})" for name, where in sorted(missing.items()))
    )


def test_env_example_lists_nothing_the_code_does_not_read():
    extra = sorted(set(env_example()) - set(settings_read()))
    assert not extra, f"Nothing in the product reads these; drop them from .env.example: {extra}"


def test_every_variable_in_env_example_says_what_it_is():
    bare = [name for name, line in env_example().items() if " # " not in line]
    assert not bare, f"Give these a comment on their line of .env.example: {bare}"


def test_readme_documents_every_variable():
    section = readme_configuration()
    missing = sorted(name for name in settings_read() if f"`{name}`" not in section)
    assert not missing, f"Document these in README's Configuration section: {missing}"
