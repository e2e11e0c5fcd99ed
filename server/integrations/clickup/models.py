"""Typed views of the ClickUp responses the gallery needs, validated on the way in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.integrations.clickup.errors import ClickUpResponseError


@dataclass(frozen=True)
class User:
    id: int
    username: str | None
    email: str | None


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    member_count: int


def parse_user(body: Any) -> User:
    user = body.get("user") if isinstance(body, dict) else None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int | str):
        raise ClickUpResponseError("ClickUp's /user answer has no user object with an id")
    username, email = user.get("username"), user.get("email")
    return User(
        id=int(user["id"]),
        username=username if isinstance(username, str) else None,
        email=email if isinstance(email, str) else None,
    )


def parse_teams(body: Any) -> list[Team]:
    teams = body.get("teams") if isinstance(body, dict) else None
    if not isinstance(teams, list):
        raise ClickUpResponseError("ClickUp's /team answer has no teams list")
    parsed: list[Team] = []
    for index, team in enumerate(teams):
        if not isinstance(team, dict) or not isinstance(team.get("id"), str | int):
            raise ClickUpResponseError(f"ClickUp's /team answer: teams[{index}] has no id")
        members = team.get("members")
        parsed.append(
            Team(str(team["id"]), str(team.get("name") or ""), len(members) if isinstance(members, list) else 0)
        )
    return parsed
