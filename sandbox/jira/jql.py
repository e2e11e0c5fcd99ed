"""The JQL subset an importer uses (§3.2): projects, time bounds, ORDER BY, joined by AND.

Supported clauses: ``project = X``, ``project in (X, Y)`` (key or id, quoted or not),
``updated|created >= | > | <= | < "2026-01-02 10:15"`` (or ``"2026-01-02"``, or relative
``-15m``/``-2h``/``-30d``/``-1w``), ``ORDER BY id|key|updated|created [ASC|DESC], ...``.
Absolute dates are read in the site's fixed -0700 zone (every user's ``timeZone``). A query
without a restriction is refused as Jira refuses it; other clauses are a 400 naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sandbox.jira.model import Issue, Site
from sandbox.jira.times import SITE_ZONE

UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
END_OF_QUERY = "Error in the JQL Query: Expecting a field name at the end of the query."

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(>=|<=|!=|=|>|<|\(|\)|,)|([^\s=!<>(),"\']+))')
_RELATIVE = re.compile(r"^(-?)(\d+)([wdhm])$")
_UNITS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000}
_ORDER_FIELDS = ("id", "key", "updated", "created")


class JqlError(ValueError):
    """A 400 with Jira's message."""


@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool


@dataclass
class Query:
    projects: list[set[str]] = field(default_factory=list)  # each clause: keys or ids, ANDed
    times: list[tuple[str, str, int]] = field(default_factory=list)  # (field, operator, epoch ms)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, ascending)
    relative: bool = False  # a bound moves with the clock: its results cannot be cached

    def matches(self, site: Site, issue: Issue) -> bool:
        owner = site.projects[issue.project_id]
        if any(owner.id not in values and owner.key not in values for values in self.projects):
            return False
        for name, operator, bound in self.times:
            value = issue.updated_ms if name == "updated" else issue.created_ms
            if not _compare(value, operator, bound):
                return False
        return True

    def sort_key(self, issue: Issue) -> tuple[tuple[int, ...], ...]:
        """Comparable whatever the directions; id last so every issue has its own place (page cursors)."""
        parts: list[tuple[int, ...]] = []
        for name, ascending in [*self.order, ("id", True)]:
            if name == "key":
                prefix, number = issue.key.rsplit("-", 1)
                raw = (*(ord(c) for c in prefix), 0, int(number))
                parts.append(raw if ascending else tuple(-v for v in raw))
                continue
            value = {"id": int(issue.id), "updated": issue.updated_ms, "created": issue.created_ms}[name]
            parts.append((value if ascending else -value,))
        return tuple(parts)


def _compare(value: int, operator: str, bound: int) -> bool:
    return {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound, "=": value == bound}[
        operator
    ]


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise JqlError(f"Error in the JQL Query: The character '{text[position]}' is a reserved JQL character.")
        double, single, symbol, word = match.groups()
        if double is not None or single is not None:
            tokens.append(Token(double if double is not None else single, True))
        else:
            tokens.append(Token(symbol or word, False))
        position = match.end()
    return tokens


def _moment(token: Token, now_ms: int) -> int:
    relative = _RELATIVE.match(token.text)
    if relative:
        sign = -1 if relative.group(1) else 1
        return now_ms + sign * int(relative.group(2)) * _UNITS[relative.group(3)]
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            moment = datetime.strptime(token.text, pattern).replace(tzinfo=SITE_ZONE)
        except ValueError:
            continue
        return int(moment.timestamp() * 1000)
    raise JqlError(
        f"Date value '{token.text}' for field 'updated' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


def parse(text: str, now_ms: int) -> Query:
    tokens = tokenize(text)
    query = Query()
    position = 0

    def take() -> Token:
        nonlocal position
        if position >= len(tokens):
            raise JqlError(END_OF_QUERY)
        position += 1
        return tokens[position - 1]

    def at(word: str) -> bool:
        return position < len(tokens) and not tokens[position].quoted and tokens[position].text.lower() == word

    restricted = False
    while position < len(tokens) and not at("order"):
        if restricted:
            if not at("and"):
                raise JqlError(
                    f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{tokens[position].text}'."
                )
            take()
        name = take()
        lowered = name.text.lower()
        if lowered == "project":
            operator = take()
            if operator.text.lower() == "in":
                if take().text != "(":
                    raise JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
                values = {take().text}
                while (separator := take()).text == ",":
                    values.add(take().text)
                if separator.text != ")":
                    raise JqlError("Error in the JQL Query: Expecting ')' to close the list.")
            elif operator.text == "=":
                values = {take().text}
            else:
                raise JqlError(
                    f"Error in the JQL Query: The operator '{operator.text}' is not supported by the 'project' field."
                )
            query.projects.append({v.upper() for v in values} | values)
        elif lowered in ("updated", "created"):
            operator = take()
            if operator.text not in (">=", ">", "<=", "<", "="):
                raise JqlError(
                    f"Error in the JQL Query: The operator '{operator.text}' is not supported by the '{lowered}' field."
                )
            value = take()
            query.relative |= _RELATIVE.match(value.text) is not None
            query.times.append((lowered, operator.text, _moment(value, now_ms)))
        else:
            raise JqlError(f"Field '{name.text}' does not exist or you do not have permission to view it.")
        restricted = True
    if at("order"):
        take()
        if take().text.lower() != "by":
            raise JqlError("Error in the JQL Query: Expecting 'by' after 'order'.")
        while True:
            order_field = take().text.lower()
            if order_field not in _ORDER_FIELDS:
                raise JqlError(f"Field '{order_field}' does not exist or you do not have permission to view it.")
            ascending = True
            if at("asc") or at("desc"):
                ascending = take().text.lower() == "asc"
            query.order.append((order_field, ascending))
            if position >= len(tokens):
                break
            if take().text != ",":
                raise JqlError("Error in the JQL Query: Expecting ',' between ORDER BY fields.")
    if not restricted:
        raise JqlError(UNBOUNDED)
    return query
