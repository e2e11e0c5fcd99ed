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


def integration_names_in(files: list[Path]) -> list[str]:
    """Where code (not docstrings or comments) names one of our integrations."""
    return [
        f"{path.relative_to(ROOT)}: {word!r}"
        for path in files
        for word in names_in_code(path)
        if any(name in word.lower() for name in INTEGRATION_NAMES)
    ]


def test_the_gateway_code_names_no_integration() -> None:
    """The gateway knows signing schemes; which integration uses which is the defaults module's (and
    configuration's) business, so a new integration never changes the gateway's code."""
    files = sorted(path for path in (ROOT / "webhook_gateway").rglob("*.py") if path != SCHEME_DEFAULTS)
    assert SCHEME_DEFAULTS.exists()
    assert any("clickup" in word for word in names_in_code(SCHEME_DEFAULTS)), "the check must see the defaults"
    assert integration_names_in(files) == []


def _is_record_shaped(annotation: ast.expr | None, inside_collection: bool = False) -> bool:
    """A dict standing in for a record: ``Any`` or ``object`` anywhere, a bare or ``Any``/``object``-
    valued dict or Mapping, or any dict inside a list, tuple, set or sequence (rows of a query)."""
    if annotation is None:
        return True  # an unannotated public method says nothing about what it returns
    text = ast.unparse(annotation)
    if any(word in ("Any", "object") for word in text.replace("[", " ").replace("]", " ").replace(",", " ").split()):
        return True
    if isinstance(annotation, ast.Name | ast.Attribute):
        name = annotation.id if isinstance(annotation, ast.Name) else annotation.attr
        return name in ("dict", "Dict", "Mapping")
    if isinstance(annotation, ast.BinOp):  # X | None
        return _is_record_shaped(annotation.left, inside_collection) or _is_record_shaped(
            annotation.right, inside_collection
        )
    if isinstance(annotation, ast.Subscript):
        outer = ast.unparse(annotation.value).rsplit(".", 1)[-1]
        items = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        if outer in ("dict", "Dict", "Mapping") and inside_collection:
            return True
        nested = outer in ("list", "tuple", "set", "frozenset", "Sequence", "Iterable", "Iterator", "AsyncIterator")
        return any(_is_record_shaped(item, inside_collection or nested) for item in items)
    return False


def test_graph_stores_return_typed_records() -> None:
    """Stores hand typed records (frozen dataclasses) up to the server, never dicts with Neo4j key
    names: every public method of a class in graph/ is checked. Counts keyed by a label or state
    (``dict[str, int]``) are values, not records, and pass."""
    checked = 0
    offences = []
    for path in sorted((ROOT / "graph").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.ClassDef):
                continue
            for method in node.body:
                if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) or method.name.startswith("_"):
                    continue
                checked += 1
                if _is_record_shaped(method.returns):
                    shown = ast.unparse(method.returns) if method.returns else "no annotation"
                    offences.append(f"{path.relative_to(ROOT)}: {node.name}.{method.name} -> {shown}")
    assert checked > 30, "the check must see the stores"
    assert offences == []


@pytest.mark.parametrize(
    ("annotation", "record_shaped"),
    [
        ("ImportJobRecord | None", False),
        ("list[InboxEvent]", False),
        ("dict[str, int]", False),
        ("tuple[str, ...]", False),
        ("dict", True),
        ("dict[str, Any]", True),
        ("list[dict[str, str]]", True),
        ("list[dict]", True),
        ("Mapping[str, object]", True),
        ("Any", True),
        ("tuple[dict[str, int], int] | None", True),
    ],
)
def test_the_record_check_tells_records_from_dicts(annotation: str, record_shaped: bool) -> None:
    parsed = ast.parse(annotation, mode="eval").body
    assert _is_record_shaped(parsed) is record_shaped


# Modules whose objects call one service object per concern: no ``self.service.part.method`` chains.
NO_REACHING_THROUGH = ("server/service.py", "server/live_sync.py", "clients/gallery/app.py")


def test_handlers_do_not_reach_through_their_services() -> None:
    offences = []
    for relative in NO_REACHING_THROUGH:
        for node in ast.walk(ast.parse((ROOT / relative).read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
                owner = node.value.value
                if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) and owner.value.id == "self":
                    offences.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
    assert offences == []


def test_every_package_is_packaged_type_checked_and_shipped() -> None:
    """A top-level package of ours is installed (pyproject), checked by mypy and copied into the image."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    checked = pyproject["tool"]["mypy"]["files"]
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")}
    for package in sorted(RULES):
        assert f"{package}*" in included, f"{package} is not installed by pyproject.toml"
        assert package in checked, f"{package} is not type-checked"
        assert package in copied, f"{package} is not copied into the image"


SERVER_REGISTRY = ROOT / "server" / "integrations" / "registry.py"


def test_the_server_names_an_integration_only_in_its_package_and_the_registry() -> None:
    """Runners, stores and handlers are generic: a new integration is its package plus a registry line,
    so outside those only docstrings and comments may name one (as an example)."""
    own_packages = [ROOT / "server" / "integrations" / name for name in INTEGRATION_NAMES]
    files = sorted(
        path
        for path in (ROOT / "server").rglob("*.py")
        if path != SERVER_REGISTRY and not any(path.is_relative_to(package) for package in own_packages)
    )
    assert any("clickup" in word.lower() for word in names_in_code(SERVER_REGISTRY)), "the check must see the registry"
    assert integration_names_in(files) == []
