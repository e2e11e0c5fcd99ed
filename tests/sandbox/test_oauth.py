"""The sandbox's ClickUp OAuth: the consent page at /api, codes, the token exchange, and tokens
bound to the workspaces chosen at consent (others answer 401 OAUTH_027), revocable (OAUTH_019)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.model import Member, Team, World
from sandbox.clickup.oauth import CODE_TTL_SECONDS
from sandbox.clickup.ratelimit import TokenRateLimiter
from sandbox.clickup.state import Sandbox
from tests.support import UvicornThread

CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
CALLBACK = "http://127.0.0.1:8123/oauth/callback"
OUTSIDER_TEAM = "90129999"  # a workspace the default user does not belong to


@dataclass
class Running:
    url: str
    sandbox: Sandbox
    world: World
    owner: int  # the default signed-in user: the world's first
    other: int  # a second user, also a member of the outsider workspace
    personal_token: str
    teams: list[str]  # the owner's workspaces, in order


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    world = generate(GeneratorConfig(seed=11, workspaces=2, members=3, spaces=1, tasks_per_list=2))
    owner, other = sorted(world.users)[:2]
    world.teams[OUTSIDER_TEAM] = Team(OUTSIDER_TEAM, "Outsiders <&> Co", "#000000", [Member(other, 1, None, 0, None)])
    sandbox = Sandbox(world, limiter=TokenRateLimiter(None))
    token = next(t for t, user in world.tokens.items() if user == owner)
    with UvicornThread(create_app(sandbox)) as server:
        yield Running(server.url, sandbox, world, owner, other, token, ["90120000", "90120001"])


@pytest.fixture
def http(running: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, timeout=10, follow_redirects=False) as client:
        yield client


# ---------------------------------------------------------------- a browser's view of the page


@dataclass
class Page:
    form: dict[str, str] = field(default_factory=dict)  # the <form>'s attributes
    hidden: dict[str, str] = field(default_factory=dict)
    checkboxes: dict[str, dict[str, str]] = field(default_factory=dict)  # by id
    labels: dict[str, str] = field(default_factory=dict)  # for= -> text
    buttons: dict[str, dict[str, str]] = field(default_factory=dict)  # by id
    error: str | None = None


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._label: str | None = None
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        kind = values.get("type", "")
        if tag == "form":
            self.page.form = values
        elif tag == "input" and kind == "hidden":
            self.page.hidden[values["name"]] = values["value"]
        elif tag == "input" and kind == "checkbox":
            self.page.checkboxes[values["id"]] = values
        elif tag == "button":
            self.page.buttons[values["id"]] = values
        elif tag == "label":
            self._label = values.get("for", "")
            self.page.labels[self._label] = ""
        elif values.get("id") == "error":
            self._in_error = True
            self.page.error = ""

    def handle_endtag(self, tag: str) -> None:
        self._label = None
        self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.page.labels[self._label] += data
        if self._in_error and self.page.error is not None:
            self.page.error += data


def read(response: httpx.Response) -> Page:
    assert response.headers["content-type"].startswith("text/html")
    reader = _Reader()
    reader.feed(response.text)
    return reader.page


def authorize_params(**extra: str) -> dict[str, str]:
    return {"client_id": "sandbox-client", "redirect_uri": CALLBACK, **extra}


def submit(http: httpx.Client, page: Page, teams: list[str], decision: str) -> httpx.Response:
    """Posts the form as a browser would: its hidden fields, the ticked boxes, the clicked button."""
    fields: list[tuple[str, str]] = list(page.hidden.items())
    fields += [("team", page.checkboxes[f"team-{team}"]["value"]) for team in teams]
    button = page.buttons[decision]
    fields.append((button["name"], button["value"]))
    assert page.form["method"] == "post"
    return post_form(http, page.form["action"], fields)


def post_form(http: httpx.Client, url: str, fields: list[tuple[str, str]]) -> httpx.Response:
    form = urlencode(fields).encode()
    return http.post(url, content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})


def redirected(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    return f"{location.scheme}://{location.netloc}{location.path}", parse_qs(location.query, keep_blank_values=True)


def consent(http: httpx.Client, teams: list[str], *, state: str = "st-1", redirect_uri: str = CALLBACK) -> str:
    """Approve ``teams`` on the consent page; the code the redirect carries."""
    page = read(http.get("/api", params=authorize_params(state=state, redirect_uri=redirect_uri)))
    _, query = redirected(submit(http, page, teams, "approve"))
    assert query["state"] == [state]
    return query["code"][0]


def exchange_by_query(http: httpx.Client, code: str) -> httpx.Response:
    return http.post("/api/v2/oauth/token", params={**CLIENT, "code": code})


def api(http: httpx.Client, token: str, path: str, *, bearer: bool = True) -> httpx.Response:
    return http.get(f"/api/v2{path}", headers={"Authorization": f"Bearer {token}" if bearer else token})


def paths_into(world: World, team_id: str) -> list[str]:
    """One path per way into a workspace: the team, a space, a folder, a list and a task of it."""
    space = next(s for s in world.spaces.values() if s.team_id == team_id)
    folder = next(f for f in world.folders.values() if f.space_id == space.id)
    task_list = next(x for x in world.lists.values() if x.folder_id == folder.id)
    task = next(t for t in world.tasks.values() if t.list_id == task_list.id)
    return [
        f"/team/{team_id}/space",
        f"/team/{team_id}/task",
        f"/space/{space.id}",
        f"/space/{space.id}/folder",
        f"/folder/{folder.id}/list",
        f"/list/{task_list.id}/task",
        f"/task/{task.id}",
        f"/task/{task.id}/comment",
    ]


# ---------------------------------------------------------------- the consent page


def test_consent_page_lists_the_signed_in_users_workspaces(http: httpx.Client, running: Running) -> None:
    response = http.get("/api", params=authorize_params(state='s"<b>&'))
    assert response.status_code == 200
    page = read(response)
    assert page.form == {"method": "post", "action": "/api"}
    assert sorted(page.checkboxes) == [f"team-{t}" for t in running.teams], "the outsider workspace is not offered"
    for team_id in running.teams:
        assert page.checkboxes[f"team-{team_id}"]["name"] == "team"
        assert page.checkboxes[f"team-{team_id}"]["value"] == team_id
        assert "checked" not in page.checkboxes[f"team-{team_id}"]
        assert page.labels[f"team-{team_id}"] == running.world.teams[team_id].name
    assert page.hidden == {
        "client_id": "sandbox-client",
        "redirect_uri": CALLBACK,
        "user_id": str(running.owner),
        "state": 's"<b>&',
    }
    assert page.buttons["approve"] == {"type": "submit", "id": "approve", "name": "decision", "value": "approve"}
    assert page.buttons["deny"] == {"type": "submit", "id": "deny", "name": "decision", "value": "deny"}
    assert "<b>" not in response.text, "the state is escaped"
    assert "Sandbox Integration" in response.text
    assert running.world.users[running.owner].email in response.text

    other = read(http.get("/api", params=authorize_params(user_id=str(running.other))))
    assert sorted(other.checkboxes) == sorted(f"team-{t}" for t in [*running.teams, OUTSIDER_TEAM])
    assert other.labels[f"team-{OUTSIDER_TEAM}"] == "Outsiders <&> Co"
    assert "state" not in other.hidden, "no state given, none carried"


def test_approving_one_of_two_workspaces_bounds_the_token_to_it(http: httpx.Client, running: Running) -> None:
    chosen, other = running.teams
    page = read(
        http.get("/api", params=authorize_params(state="abc", redirect_uri=f"{CALLBACK}?tenant=t1&state=stale"))
    )
    target, query = redirected(submit(http, page, [chosen], "approve"))
    assert target == CALLBACK
    assert query["tenant"] == ["t1"], "a query already in the redirect URI is kept"
    assert query["state"] == ["abc"], "the redirect's own state replaces one already in the redirect URI"
    by_query = exchange_by_query(http, query["code"][0])
    by_json = http.post("/api/v2/oauth/token", json={**CLIENT, "code": consent(http, [chosen])})
    for exchanged in (by_query, by_json):
        assert exchanged.status_code == 200, exchanged.text
        assert list(exchanged.json()) == ["access_token"], "no refresh token, no expiry"
    tokens = [by_query.json()["access_token"], by_json.json()["access_token"]]
    assert tokens[0] != tokens[1]

    for token in tokens:
        for bearer in (True, False):
            teams = api(http, token, "/team", bearer=bearer)
            assert [t["id"] for t in teams.json()["teams"]] == [chosen]
        assert api(http, token, "/user").json()["user"]["id"] == running.owner
        for path in paths_into(running.world, chosen):
            assert api(http, token, path).status_code == 200, path
        for path in paths_into(running.world, other):
            refused = api(http, token, path)
            assert (refused.status_code, refused.json()) == (
                401,
                {"err": "Team not authorized", "ECODE": "OAUTH_027"},
            ), path


def test_a_personal_token_still_reaches_every_workspace_of_its_user(http: httpx.Client, running: Running) -> None:
    consent(http, [running.teams[0]])  # an OAuth grant elsewhere changes nothing for the personal token
    teams = api(http, running.personal_token, "/team", bearer=False).json()["teams"]
    assert [t["id"] for t in teams] == running.teams
    for team_id in running.teams:
        for path in paths_into(running.world, team_id):
            assert api(http, running.personal_token, path, bearer=False).status_code == 200, path
    outsider = api(http, running.personal_token, f"/team/{OUTSIDER_TEAM}/space", bearer=False)
    assert (outsider.status_code, outsider.json()["ECODE"]) == (401, "OAUTH_027"), "not a member there"


def test_deny_redirects_with_access_denied_and_the_state(http: httpx.Client, running: Running) -> None:
    codes_before = dict(running.sandbox.oauth.codes)
    page = read(http.get("/api", params=authorize_params(state="deny-me")))
    target, query = redirected(submit(http, page, [running.teams[0]], "deny"))
    assert (target, query) == (CALLBACK, {"error": ["access_denied"], "state": ["deny-me"]})
    assert running.sandbox.oauth.codes == codes_before, "no code issued"

    stateless = read(http.get("/api", params=authorize_params()))
    assert redirected(submit(http, stateless, [], "deny"))[1] == {"error": ["access_denied"]}


def test_approving_without_a_workspace_shows_the_form_again(http: httpx.Client, running: Running) -> None:
    codes_before = dict(running.sandbox.oauth.codes)
    page = read(http.get("/api", params=authorize_params(state="again")))
    answer = submit(http, page, [], "approve")
    assert answer.status_code == 400
    shown = read(answer)
    assert shown.error is not None
    assert "at least one Workspace" in shown.error
    assert sorted(shown.checkboxes) == sorted(page.checkboxes)
    assert shown.hidden == page.hidden, "the form keeps its client, redirect URI and state"
    assert running.sandbox.oauth.codes == codes_before, "no code issued"

    forged = post_form(http, "/api", [*page.hidden.items(), ("team", OUTSIDER_TEAM), ("decision", "approve")])
    assert forged.status_code == 400, "a workspace the user is not in cannot be granted"
    assert "location" not in forged.headers


@pytest.mark.parametrize(
    ("params", "ecode"),
    [
        ({"client_id": "no-such-app", "redirect_uri": CALLBACK}, "OAUTH_010"),
        ({"redirect_uri": CALLBACK}, "OAUTH_010"),
        ({"client_id": "sandbox-client"}, "OAUTH_017"),
        ({"client_id": "sandbox-client", "redirect_uri": ""}, "OAUTH_017"),
        ({"client_id": "sandbox-client", "redirect_uri": "https://evil.example.com/oauth/callback"}, "OAUTH_007"),
        ({"client_id": "sandbox-client", "redirect_uri": "http://127.0.0.1.evil.example.com/cb"}, "OAUTH_007"),
        ({"client_id": "sandbox-client", "redirect_uri": "https://127.0.0.1:8123/oauth/callback"}, "OAUTH_007"),
        ({"client_id": "sandbox-client", "redirect_uri": f"{CALLBACK}#frag"}, "OAUTH_007"),
    ],
)
def test_authorize_errors_show_a_page_with_the_ecode_and_never_redirect(
    http: httpx.Client, params: dict[str, str], ecode: str
) -> None:
    for answer in (
        http.get("/api", params={**params, "state": "s"}),
        post_form(http, "/api", [*params.items(), ("team", "90120000"), ("decision", "approve")]),
    ):
        assert answer.status_code == 400
        assert "location" not in answer.headers
        page = read(answer)
        assert page.error is not None
        assert ecode in page.error
        assert page.buttons == {}, "no form to approve"


def test_registered_redirect_uris_match_exactly_and_loopback_on_any_port(http: httpx.Client) -> None:
    registered = http.post(
        "/_sandbox/oauth/clients",
        json={
            "client_id": "exact-app",
            "client_secret": "exact-secret",
            "redirect_uris": ["https://app.example.com/oauth/callback"],
            "name": "Exact App",
        },
    )
    assert registered.status_code == 201, registered.text
    assert "exact-secret" not in registered.text

    def ecode_for(client_id: str, redirect_uri: str) -> str | None:
        answer = http.get("/api", params={"client_id": client_id, "redirect_uri": redirect_uri})
        page = read(answer)
        return None if answer.status_code == 200 else page.error

    assert ecode_for("exact-app", "https://app.example.com/oauth/callback") is None
    assert ecode_for("exact-app", "https://APP.example.com:443/oauth/callback?x=1") is None
    for wrong in (
        "https://app.example.com/oauth/callback/more",
        "https://app.example.com:8443/oauth/callback",
        "http://app.example.com/oauth/callback",
        "http://127.0.0.1:8123/oauth/callback",  # the loopback convenience belongs to the default app
    ):
        assert "OAUTH_007" in (ecode_for("exact-app", wrong) or ""), wrong
    for loopback in ("http://127.0.0.1:1/a", "http://localhost:65000/b/c", "http://127.0.0.1/", "http://[::1]:9/x"):
        assert ecode_for("sandbox-client", loopback) is None, loopback

    opened = http.get(
        "/api", params={"client_id": "exact-app", "redirect_uri": "https://app.example.com/oauth/callback"}
    )
    assert "Exact App" in opened.text
    page = read(opened)
    assert page.hidden["client_id"] == "exact-app"
    target, query = redirected(submit(http, page, ["90120000"], "approve"))
    assert target == "https://app.example.com/oauth/callback"
    code = query["code"][0]
    assert exchange_by_query(http, code).json()["ECODE"] == "OAUTH_015", "a code of another app is unknown to this one"
    own = http.post(
        "/api/v2/oauth/token", params={"client_id": "exact-app", "client_secret": "exact-secret", "code": code}
    )
    assert own.status_code == 200, "and was not spent by the other app's attempt"


# ---------------------------------------------------------------- the token endpoint


def test_a_code_is_single_use(http: httpx.Client, running: Running) -> None:
    code = consent(http, [running.teams[0]])
    assert exchange_by_query(http, code).status_code == 200
    replayed = exchange_by_query(http, code)
    assert (replayed.status_code, replayed.json()) == (400, {"err": "Code not found", "ECODE": "OAUTH_015"})
    unknown = exchange_by_query(http, "0" * 32)
    assert (unknown.status_code, unknown.json()["ECODE"]) == (400, "OAUTH_015")


def test_a_code_expires_after_ten_minutes(
    http: httpx.Client, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth = running.sandbox.oauth
    real = oauth.clock
    fresh, stale = consent(http, [running.teams[0]]), consent(http, [running.teams[0]])
    monkeypatch.setattr(oauth, "clock", lambda: real() + CODE_TTL_SECONDS - 5)
    assert exchange_by_query(http, fresh).status_code == 200, "still valid just before ten minutes"
    monkeypatch.setattr(oauth, "clock", lambda: real() + CODE_TTL_SECONDS + 1)
    expired = exchange_by_query(http, stale)
    assert (expired.status_code, expired.json()["ECODE"]) == (400, "OAUTH_015")


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_id": "sandbox-client", "client_secret": "wrong-secret"},
        {"client_id": "sandbox-client", "client_secret": ""},
        {"client_id": "sandbox-client"},
        {"client_id": "no-such-app", "client_secret": "sandbox-secret"},
        {},
    ],
)
def test_a_wrong_client_or_secret_is_client_not_found_and_spends_no_code(
    http: httpx.Client, running: Running, credentials: dict[str, str]
) -> None:
    code = consent(http, [running.teams[0]])
    for refused in (
        http.post("/api/v2/oauth/token", params={**credentials, "code": code}),
        http.post("/api/v2/oauth/token", json={**credentials, "code": code}),
    ):
        assert (refused.status_code, refused.json()) == (400, {"err": "Client not found", "ECODE": "OAUTH_010"})
    assert exchange_by_query(http, code).status_code == 200


def test_the_token_endpoint_accepts_a_form_encoded_body(http: httpx.Client, running: Running) -> None:
    code = consent(http, [running.teams[1]])
    answer = http.post("/api/v2/oauth/token", data={**CLIENT, "code": code})
    assert answer.status_code == 200, answer.text
    teams = api(http, answer.json()["access_token"], "/team").json()["teams"]
    assert [t["id"] for t in teams] == [running.teams[1]]


# ---------------------------------------------------------------- tokens afterwards


def test_a_revoked_token_answers_token_not_found(http: httpx.Client, running: Running) -> None:
    token = exchange_by_query(http, consent(http, running.teams)).json()["access_token"]
    assert api(http, token, "/user").status_code == 200
    revoked = http.post("/_sandbox/oauth/revoke", json={"token": token})
    assert (revoked.status_code, revoked.json()) == (
        200,
        {"revoked": True, "client_id": "sandbox-client", "user_id": running.owner, "team_ids": running.teams},
    )
    for bearer in (True, False):
        refused = api(http, token, "/team", bearer=bearer)
        assert (refused.status_code, refused.json()) == (401, {"err": "Token not found", "ECODE": "OAUTH_019"})
    assert http.post("/_sandbox/oauth/revoke", json={"token": token}).status_code == 200, "revoking again is fine"
    unknown = api(http, "never-issued", "/team")
    assert (unknown.status_code, unknown.json()["ECODE"]) == (401, "OAUTH_025"), "an unknown token keeps its answer"
    assert http.post("/_sandbox/oauth/revoke", json={"token": running.personal_token}).status_code == 404
    assert api(http, running.personal_token, "/user", bearer=False).status_code == 200


def test_webhooks_created_with_an_oauth_token_carry_its_client_id(http: httpx.Client, running: Running) -> None:
    team_id = running.teams[0]
    token = exchange_by_query(http, consent(http, [team_id])).json()["access_token"]
    endpoint = "https://hooks.example.com/oauth-made"
    created = http.post(
        f"/api/v2/team/{team_id}/webhook",
        headers={"Authorization": f"Bearer {token}"},
        json={"endpoint": endpoint, "events": "*"},
    )
    assert created.status_code == 200, created.text
    assert created.json()["webhook"]["client_id"] == "sandbox-client"
    personal = http.post(
        f"/api/v2/team/{team_id}/webhook",
        headers={"Authorization": running.personal_token},
        json={"endpoint": f"{endpoint}?by=pk", "events": "*"},
    )
    assert personal.json()["webhook"]["client_id"] != "sandbox-client"
    elsewhere = http.post(
        f"/api/v2/team/{running.teams[1]}/webhook",
        headers={"Authorization": f"Bearer {token}"},
        json={"endpoint": endpoint, "events": "*"},
    )
    assert (elsewhere.status_code, elsewhere.json()["ECODE"]) == (401, "OAUTH_027")
    other_token = exchange_by_query(http, consent(http, [running.teams[1]])).json()["access_token"]
    hook_url = f"/api/v2/webhook/{created.json()['id']}"
    foreign = http.delete(hook_url, headers={"Authorization": f"Bearer {other_token}"})
    assert (foreign.status_code, foreign.json()["ECODE"]) == (401, "OAUTH_027"), "same user, workspace not granted"
    assert http.delete(hook_url, headers={"Authorization": f"Bearer {token}"}).json() == {}


def test_admin_codes_take_workspaces_and_a_redirect_uri(http: httpx.Client, running: Running) -> None:
    issued = http.post(
        "/_sandbox/oauth/codes",
        json={"user_id": running.owner, "team_ids": [running.teams[1]], "redirect_uri": CALLBACK},
    )
    assert issued.status_code == 200, issued.text
    body: dict[str, Any] = issued.json()
    assert {k: body[k] for k in ("client_id", "client_secret", "team_ids", "redirect_uri", "expires_in")} == {
        **CLIENT,
        "team_ids": [running.teams[1]],
        "redirect_uri": CALLBACK,
        "expires_in": 600,
    }
    token = exchange_by_query(http, body["code"]).json()["access_token"]
    assert [t["id"] for t in api(http, token, "/team").json()["teams"]] == [running.teams[1]]

    everything = http.post("/_sandbox/oauth/codes", json={"user_id": running.owner}).json()
    assert everything["team_ids"] == running.teams, "no team_ids: every workspace of the user"
    for refused in (
        {"user_id": running.owner, "team_ids": [OUTSIDER_TEAM]},
        {"user_id": running.owner, "team_ids": []},
        {"user_id": running.owner, "redirect_uri": "https://evil.example.com/cb"},
    ):
        answer = http.post("/_sandbox/oauth/codes", json=refused)
        assert answer.status_code == 400, refused
        assert "error" in answer.json()
