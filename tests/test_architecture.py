"""The dependency rules of the layout, checked on the source: one way only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

RULES = {
    # graph/ knows nothing of RPC, HTTP or plugins.
    "graph": ("server", "integrations", "webhook_gateway", "clients", "sandbox", "grpc", "httpx", "starlette"),
    # Callers talk gRPC through the generated contract only.
    "webhook_gateway": ("server", "graph", "sandbox"),
    "clients": ("server", "graph", "sandbox"),
    # The sandbox stands in for ClickUp: it must not lean on our own code.
    "sandbox": ("server", "graph", "integrations", "webhook_gateway", "clients"),
    "server": ("webhook_gateway", "clients", "sandbox", "devtools"),
    # The settings reader every layer shares: it leans on none of them.
    "envconfig": ("server", "graph", "integrations", "webhook_gateway", "clients", "sandbox", "devtools"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_follow_the_architecture(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offences = []
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in RULES[package]:
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_generated_code_is_fresh() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "devtools.gen_protos", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_graph_names_no_source() -> None:
    """graph/ is one core for every source: a source's name may appear in comments and docstrings only."""
    import io
    import tokenize

    offences = [str(path.relative_to(ROOT)) for path in (ROOT / "graph").rglob("*") if "clickup" in path.name.lower()]
    for path in sorted((ROOT / "graph").rglob("*.py")):
        source = path.read_text()
        docstrings = {
            node.value.lineno
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        }
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT or (token.type == tokenize.STRING and token.start[0] in docstrings):
                continue
            if "clickup" in token.string.lower():
                offences.append(f"{path.relative_to(ROOT)}:{token.start[0]}: {token.string[:60]}")
    assert offences == []


INTEGRATION_NAMES = ("clickup", "jira")
SCHEME_DEFAULTS = ROOT / "webhook_gateway" / "schemes" / "defaults.py"


def names_in_code(path: Path) -> list[str]:
    """Identifiers and string literals of a module, docstrings left out (comments never reach the AST)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    words: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.append(node.value)
        elif isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            words.append(node.name)
        elif isinstance(node, ast.arg):
            words.append(node.arg)
        elif isinstance(node, ast.alias):
            words.extend(filter(None, (node.name, node.asname)))
    return words


def test_the_gateway_code_names_no_integration() -> None:
    """The gateway knows signing schemes; which integration uses which is the defaults module's (and
    configuration's) business, so a new integration never changes the gateway's code."""
    files = sorted(path for path in (ROOT / "webhook_gateway").rglob("*.py") if path != SCHEME_DEFAULTS)
    assert SCHEME_DEFAULTS.exists()
    assert any("clickup" in word for word in names_in_code(SCHEME_DEFAULTS)), "the check must see the defaults"
    offences = [
        f"{path.relative_to(ROOT)}: {word!r}"
        for path in files
        for word in names_in_code(path)
        if any(name in word.lower() for name in INTEGRATION_NAMES)
    ]
    assert offences == []
