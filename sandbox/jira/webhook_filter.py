"""Webhook JQL filters (§6.1): the subset a webhook may name, parsed once and matched per event.

A filter is an OR of AND-ed clauses over ``project``, ``issuetype``/``type``, ``status``,
``assignee``, ``reporter`` and ``issuekey``/``key``, each ``=``, ``!=``, ``IN`` or ``NOT IN``;
values match ids, keys and names case-insensitively. Anything else is refused with Jira's message.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.jira import jql
from sandbox.jira.model import Issue, Site

FILTER_FIELDS = {"project", "issuetype", "type", "status", "assignee", "reporter", "issuekey", "key"}


@dataclass(frozen=True)
class Clause:
    field: str
    negated: bool
    values: frozenset[str]  # lower-cased

    def holds(self, site: Site, issue: Issue) -> bool:
        return bool(_candidates(site, issue, self.field) & self.values) != self.negated


@dataclass(frozen=True)
class Filter:
    """The dynamic-webhook JQL subset (§6.1): OR of AND-ed clauses; no clauses matches everything."""

    text: str
    any_of: tuple[tuple[Clause, ...], ...] = ()

    def matches(self, site: Site, issue: Issue) -> bool:
        return not self.any_of or any(all(c.holds(site, issue) for c in group) for group in self.any_of)


def _candidates(site: Site, issue: Issue, name: str) -> set[str]:
    """What an issue answers to for one clause field: ids, keys and names, lower-cased."""
    if name == "project":
        owner = site.projects[issue.project_id]
        return {owner.id, owner.key.lower()}
    if name in ("issuetype", "type"):
        kind = site.issue_types[issue.type_id]
        return {kind.id, kind.name.lower()}
    if name == "status":
        return {issue.status_id, site.statuses[issue.status_id].name.lower()}
    if name in ("assignee", "reporter"):
        person = issue.assignee if name == "assignee" else issue.reporter
        return {"empty", "null"} if person is None else {person.lower()}
    return {issue.id, issue.key.lower(), *(k.lower() for k in issue.old_keys)}


def parse_filter(text: str) -> Filter:
    """Parse a filter or raise ``jql.JqlError`` with Jira's message for it."""
    tokens = jql.tokenize(text)
    groups: list[tuple[Clause, ...]] = []
    current: list[Clause] = []
    position = 0

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise jql.JqlError(jql.END_OF_QUERY)
        position += 1
        return tokens[position - 1].text

    while position < len(tokens):
        name = take().lower()
        if name not in FILTER_FIELDS:
            raise jql.JqlError(f"The clause {tokens[position - 1].text} is unsupported")
        operator = take().lower()
        negated = operator in ("!=", "not")
        if operator == "not" and take().lower() != "in":
            raise jql.JqlError("Error in the JQL Query: Expecting 'in' after 'not'.")
        if operator in ("in", "not"):
            if take() != "(":
                raise jql.JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
            values = {take()}
            while (separator := take()) == ",":
                values.add(take())
            if separator != ")":
                raise jql.JqlError("Error in the JQL Query: Expecting ')' to close the list.")
        elif operator in ("=", "!="):
            values = {take()}
        else:
            raise jql.JqlError(f"The operator '{operator}' is unsupported; use =, !=, IN or NOT IN.")
        current.append(Clause(name, negated, frozenset(v.lower() for v in values)))
        if position < len(tokens):
            joiner = take().lower()
            if joiner not in ("and", "or"):
                raise jql.JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{joiner}'.")
            if joiner == "or":
                groups.append(tuple(current))
                current = []
            if position >= len(tokens):
                raise jql.JqlError(jql.END_OF_QUERY)
    if current:
        groups.append(tuple(current))
    return Filter(text, tuple(groups))
