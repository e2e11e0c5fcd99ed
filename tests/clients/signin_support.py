"""Sign-in (OAuth) tests' helpers: a sandbox world whose user belongs to two workspaces, and a
driver for the sandbox's consent page that reads its form as a browser would and submits it."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import httpx

from sandbox.clickup.fixtures import test_vector_world
from sandbox.clickup.model import Folder, Member, Space, Status, Task, TaskList, Team, World

FIRST_TEAM = "90120000"  # the test vectors' "Acme Workspace"
SECOND_TEAM = "90130000"
SECOND_TEAM_NAME = "Beta Workspace"
SECOND_TASK = "86beta0001"


def two_team_world() -> World:
    """The test vectors' world, with its owner also a member of a second workspace of its own."""
    world = test_vector_world()
    ada = world.teams[FIRST_TEAM].members[0].user_id
    world.teams[SECOND_TEAM] = Team(
        SECOND_TEAM, SECOND_TEAM_NAME, "#7B68EE", [Member(ada, 1, 1700000000000, 1700000000000, None)]
    )
    world.spaces["90130100"] = Space(
        "90130100",
        SECOND_TEAM,
        "Research",
        statuses=[
            Status("sc901301000001_open01", "to do", "open", 0, "#87909e"),
            Status("sc901301000001_done01", "complete", "closed", 1, "#008844"),
        ],
    )
    world.folders["90130200"] = Folder("90130200", "90130100", "Studies")
    world.lists["901300000001"] = TaskList("901300000001", "90130100", "90130200", "Backlog")
    world.tasks[SECOND_TASK] = Task(
        SECOND_TASK, "901300000001", "Read the OAuth spec", "to do", ada, 1718000000000, 1718000000500
    )
    return world


# ---------------------------------------------------------------- the consent page


@dataclass
class _Control:
    tag: str
    attrs: dict[str, str]


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[_Control] = []
        self.action: str | None = None
        self.method = "get"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
            self.method = values.get("method", "get").lower()
        elif tag in ("input", "button"):
            self.controls.append(_Control(tag, values))


@dataclass(frozen=True)
class ConsentPage:
    """The sandbox's consent form: hidden fields, one checkbox per workspace (``id="team-<id>"``),
    and the ``approve`` and ``deny`` buttons."""

    url: httpx.URL
    action: httpx.URL
    method: str
    hidden: list[tuple[str, str]]
    teams: dict[str, tuple[str, str]]  # team id -> (name, value) of its checkbox
    buttons: dict[str, tuple[str, str]]  # button id -> (name, value)

    @classmethod
    def parse(cls, url: httpx.URL, text: str) -> ConsentPage:
        form = _Form()
        form.feed(text)
        hidden: list[tuple[str, str]] = []
        teams: dict[str, tuple[str, str]] = {}
        buttons: dict[str, tuple[str, str]] = {}
        for control in form.controls:
            attrs = control.attrs
            kind = attrs.get("type", "submit" if control.tag == "button" else "text").lower()
            if kind == "hidden" and attrs.get("name"):
                hidden.append((attrs["name"], attrs.get("value", "")))
            elif kind == "checkbox" and attrs.get("id", "").startswith("team-"):
                teams[attrs["id"].removeprefix("team-")] = (attrs.get("name", ""), attrs.get("value", "on"))
            elif kind == "submit" and attrs.get("id"):
                buttons[attrs["id"]] = (attrs.get("name", ""), attrs.get("value", ""))
        action = url.join(form.action) if form.action else url
        return cls(url, action, form.method, hidden, teams, buttons)

    def submission(self, teams: list[str], *, approve: bool) -> list[tuple[str, str]]:
        fields = list(self.hidden) + [self.teams[team] for team in teams]
        name, value = self.buttons["approve" if approve else "deny"]
        if name:
            fields.append((name, value))
        return fields


async def consent(authorization_url: str, teams: list[str], *, approve: bool = True) -> httpx.URL:
    """Opens the consent page, ticks ``teams``, approves or denies; where the sandbox redirects to."""
    async with httpx.AsyncClient(timeout=10) as browser:
        opened = await browser.get(authorization_url)
        assert opened.status_code == 200, opened.text
        page = ConsentPage.parse(opened.url, opened.text)
        assert sorted(page.teams) == sorted([FIRST_TEAM, SECOND_TEAM]), page.teams
        fields = page.submission(teams, approve=approve)
        if page.method == "post":
            answer = await browser.post(page.action, data=_as_data(fields))
        else:
            answer = await browser.get(page.action, params=_as_data(fields))
    assert answer.status_code in (302, 303), answer.text
    return httpx.URL(answer.headers["location"])


def _as_data(fields: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {}
    for name, value in fields:
        if name in data:
            previous = data[name]
            data[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            data[name] = value
    return data
