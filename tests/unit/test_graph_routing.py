"""Where each Cypher statement of ``graph/`` may run on a cluster, checked on the source.

Every ``execute_query`` names its routing (``routing_=neo4j.RoutingControl.READ`` or ``.WRITE``), so
the choice is made, and reviewed, statement by statement. A READ statement may go to a follower,
which refuses any write: its Cypher must hold no write clause, and the list of READ statements below
changes only on purpose. Sessions share the driver's bookmark manager with ``execute_query``, so a
read after a session's write sees it. The server's side (a write in READ mode is refused, also on
one Community server) is ``tests/integration/test_graph_routing.py``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

GRAPH = Path(__file__).resolve().parents[2] / "graph"
# Schema statements and the schema lock, before anything reads: the default (WRITE, on the leader) and
# sessions of their own. Its owner may name the routing when next editing it, and drop it from here.
DEFAULT_ROUTED = {"migrations.py"}

# Cypher keywords that write, as words: not a property (``n.set``), parameter (``$delete``) or part of a
# name (``createdAt``). Case-insensitive, as Cypher is.
WRITE_CLAUSE = re.compile(
    r"(?<![\w.$`])(MERGE|CREATE|SET|DELETE|REMOVE|DETACH|DROP|FOREACH|LOAD\s+CSV|IN\s+TRANSACTIONS)(?![\w`])",
    re.IGNORECASE,
)

# The statements that may go to a follower, by module and function: a new one is a decision to review.
EXPECTED_READS = {
    ("analytics.py", "days"),  # figures a moment behind are still the day's figures
    ("audit_log.py", "list_records"),
    # The sweep's listings (swept kinds and stubs): a follower behind can only make a sweep remove
    # less, or leave a stub for the next run.
    ("cleanup.py", "_unseen"),
    ("cleanup.py", "totals"),
    ("import_jobs.py", "get"),
    ("import_jobs.py", "list_jobs"),
    ("import_jobs.py", "orphans"),  # candidates: the claim itself is a compare-and-set on the leader
    ("import_jobs.py", "sync_state"),
    ("integration_store.py", "get"),  # save compares versions on the leader
    ("integration_store.py", "list_for_project"),
    ("integration_store.py", "enabled_keys"),
    ("sealed_values.py", "count"),
    ("sealed_values.py", "not_under"),  # rotation's swap is a compare-and-set on the leader
    ("sealed_values.py", "by_element_ids"),
    ("webhook_inbox.py", "list_events"),
    ("webhook_inbox.py", "dead_letters"),  # revive and keep_dead act only on what the leader holds as dead
    ("webhook_inbox.py", "depth_by_state"),
    ("webhook_inbox.py", "for_project"),
    ("webhook_inbox.py", "all_registrations"),  # candidates: each duty is claimed on the leader
}


def _modules() -> list[Path]:
    return sorted(path for path in GRAPH.glob("*.py") if path.name != "__init__.py")


def _named_modules() -> list[Path]:
    return [path for path in _modules() if path.name not in DEFAULT_ROUTED]


def _calls(tree: ast.AST, method: str) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method:
            yield node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _routing(call: ast.Call) -> str | None:
    """READ or WRITE when the call names ``neo4j.RoutingControl.<mode>`` itself, else None."""
    value = _keyword(call, "routing_")
    if (
        isinstance(value, ast.Attribute)
        and value.attr in ("READ", "WRITE")
        and isinstance(value.value, ast.Attribute)
        and value.value.attr == "RoutingControl"
    ):
        return value.attr
    return None


def _enclosing(tree: ast.Module) -> dict[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Each node's innermost enclosing function."""
    owner: dict[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef] = {}

    def visit(node: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node
        if function is not None:
            owner[node] = function
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return owner


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    return names[1:] if names and names[0] in ("self", "cls") else names


def _query_argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    if len(call.args) > position and not isinstance(call.args[position], ast.Starred):
        return call.args[position]
    return _keyword(call, name)


@dataclass(frozen=True)
class ReadSite:
    """A statement sent in READ mode: where it is written, and the expression that gives its text."""

    module: Path
    function: ast.FunctionDef | ast.AsyncFunctionDef
    query: ast.expr


def _read_sites(path: Path, tree: ast.Module) -> list[ReadSite]:
    """READ statements: ``execute_query(..., routing_=READ)`` calls, and calls of a helper that passes
    one of its parameters to such a call as the query (followed through helpers of helpers)."""
    owner = _enclosing(tree)
    sites: list[ReadSite] = []
    helpers: dict[str, tuple[int, str]] = {}  # function -> its query parameter (position, name)
    for call in _calls(tree, "execute_query"):
        if _routing(call) != "READ":
            continue
        function = owner[call]
        query = _query_argument(call, 0, "query_")
        assert query is not None, f"{path.name}:{call.lineno}: execute_query without a query"
        if isinstance(query, ast.Name) and query.id in _parameters(function):
            helpers[function.name] = (_parameters(function).index(query.id), query.id)
        else:
            sites.append(ReadSite(path, function, query))
    seen: set[ast.Call] = set()
    while True:
        new = False
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or node in seen:
                continue
            call = node
            callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
            if callee not in helpers:
                continue
            seen.add(call)
            position, name = helpers[callee]
            query = _query_argument(call, position, name)
            assert query is not None, f"{path.name}:{call.lineno}: {callee} called without its query"
            function = owner[call]
            if isinstance(query, ast.Name) and query.id in _parameters(function):
                helpers[function.name] = (_parameters(function).index(query.id), query.id)
                new = True
            else:
                sites.append(ReadSite(path, function, query))
        if not new:
            return sites


def _module_texts(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level ``NAME = <expression>`` assignments."""
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value
    return found


def _imported(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """Names imported from other graph modules: name -> (module file, name there)."""
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("graph."):
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module.split(".", 1)[1] + ".py", alias.name)
    return found


class TextOf:
    """Every piece of Cypher text an expression can produce: its string constants, and those of the
    local variables, module constants, graph imports and module functions it uses (an
    over-approximation: a write keyword anywhere in them counts). Names that resolve to nothing
    (parameters, loop variables, attributes) are values spliced in as identifiers."""

    def __init__(self) -> None:
        self._trees: dict[str, ast.Module] = {}

    def tree(self, module: str) -> ast.Module:
        if module not in self._trees:
            self._trees[module] = ast.parse((GRAPH / module).read_text(), filename=module)
        return self._trees[module]

    def __call__(
        self, module: str, expression: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef | None
    ) -> list[str]:
        return self._pieces(module, expression, function, set())

    def _pieces(
        self,
        module: str,
        expression: ast.AST,
        function: ast.FunctionDef | ast.AsyncFunctionDef | None,
        visited: set[tuple[str, str]],
    ) -> list[str]:
        tree = self.tree(module)
        pieces: list[str] = []
        for node in ast.walk(expression):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                pieces.append(node.value)
            elif isinstance(node, ast.Name) and (module, node.id) not in visited:
                visited.add((module, node.id))
                pieces += self._name(module, tree, node.id, function, visited)
        return pieces

    def _name(
        self,
        module: str,
        tree: ast.Module,
        name: str,
        function: ast.FunctionDef | ast.AsyncFunctionDef | None,
        visited: set[tuple[str, str]],
    ) -> list[str]:
        pieces: list[str] = []
        if function is not None:  # local assignments of the function that issues the query
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                    pieces += self._pieces(module, node.value, function, visited)
        constants = _module_texts(tree)
        if name in constants:
            pieces += self._pieces(module, constants[name], None, visited)
        functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        if name in functions:
            pieces += self._pieces(module, functions[name], functions[name], visited)
        imported = _imported(tree)
        if name in imported:
            other, there = imported[name]
            if (GRAPH / other).exists():
                other_tree = self.tree(other)
                other_constants = _module_texts(other_tree)
                if there in other_constants:
                    pieces += self._pieces(other, other_constants[there], None, visited)
                for node in other_tree.body:
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == there:
                        pieces += self._pieces(other, node, node, visited)
        return pieces


def _all_read_sites() -> list[ReadSite]:
    sites: list[ReadSite] = []
    for path in _modules():
        sites += _read_sites(path, ast.parse(path.read_text(), filename=str(path)))
    return sites


@pytest.mark.parametrize("path", _named_modules(), ids=lambda p: p.name)
def test_every_statement_names_its_routing(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    unnamed = [f"{path.name}:{call.lineno}" for call in _calls(tree, "execute_query") if _routing(call) is None]
    assert unnamed == [], "pass routing_=neo4j.RoutingControl.READ or .WRITE (READ only for a pure read)"


@pytest.mark.parametrize("path", _named_modules(), ids=lambda p: p.name)
def test_sessions_share_the_bookmarks_of_execute_query(path: Path) -> None:
    """A session with bookmarks of its own would not chain with execute_query: an import's write in the
    writer's session, then its totals read from a follower that has not applied it yet."""
    tree = ast.parse(path.read_text(), filename=str(path))
    unshared = [
        f"{path.name}:{call.lineno}"
        for call in _calls(tree, "session")
        if not (
            isinstance(manager := _keyword(call, "bookmark_manager"), ast.Attribute)
            and manager.attr == "execute_query_bookmark_manager"
        )
    ]
    assert unshared == [], "open sessions with bookmark_manager=driver.execute_query_bookmark_manager"


def test_read_statements_hold_no_write_clause() -> None:
    text_of = TextOf()
    writing = []
    for site in _all_read_sites():
        text = " ".join(text_of(site.module.name, site.query, site.function))
        assert text.strip(), f"{site.module.name}:{site.query.lineno}: the Cypher of a READ statement is not visible"
        if match := WRITE_CLAUSE.search(text):
            writing.append(f"{site.module.name}:{site.query.lineno} ({site.function.name}) has {match.group(0)}")
    assert writing == []


def test_the_statements_sent_to_followers_are_the_reviewed_ones() -> None:
    found = {(site.module.name, site.function.name) for site in _all_read_sites()}
    assert found == EXPECTED_READS


def test_a_read_helper_is_followed_to_the_text_its_callers_pass() -> None:
    source = """
import neo4j
class Store:
    async def _read(self, query, **params):
        return await self._driver.execute_query(query, params, routing_=neo4j.RoutingControl.READ)
    async def _via(self, text):
        return await self._read(text)
    async def good(self):
        return await self._via("MATCH (n) RETURN n")
    async def bad(self):
        return await self._read(f"MATCH (n:{LABEL}) " + CLAUSE)
LABEL = "Thing"
CLAUSE = "SET n.x = 1"
"""
    tree = ast.parse(source)
    sites = _read_sites(GRAPH / "example.py", tree)
    assert sorted(site.function.name for site in sites) == ["bad", "good"]
    text_of = TextOf()
    text_of._trees["example.py"] = tree
    texts = {site.function.name: " ".join(text_of("example.py", site.query, site.function)) for site in sites}
    assert WRITE_CLAUSE.search(texts["good"]) is None
    assert WRITE_CLAUSE.search(texts["bad"]) is not None


@pytest.mark.parametrize(
    ("cypher", "writes"),
    [
        ("MATCH (n) RETURN n", False),
        ("MERGE (n:A {k: 1})", True),
        ("create (n:A)", True),
        ("MATCH (n) SET n.x = 1", True),
        ("MATCH (n) DETACH DELETE n", True),
        ("MATCH (n) DELETE n", True),
        ("MATCH (n) REMOVE n.x", True),
        ("DROP CONSTRAINT c", True),
        ("FOREACH (x IN [] | CREATE ())", True),
        ("LOAD CSV FROM 'f' AS row RETURN row", True),
        ("MATCH (n) CALL (n) { RETURN 1 AS one } IN TRANSACTIONS RETURN one", True),
        ("MATCH (n) WHERE n.createdAt > $since RETURN n.deletedAt, n.set, $delete", False),
        ("MATCH (n:Tombstone) RETURN toLower(n.state) AS state ORDER BY n.offset", False),
        ("RETURN count(CASE WHEN n.x STARTS WITH $prefix THEN 1 END)", False),
    ],
)
def test_write_clauses_are_told_from_names(cypher: str, writes: bool) -> None:
    assert (WRITE_CLAUSE.search(cypher) is not None) == writes
