"""The gateway's scheme table: configuration wins, the server fills the gaps, strangers cost little.

The server's side is a stand-in here (what it answers is the point, not the wire; the wire is
covered by tests/gateway/test_gateway_schemes.py against the real server)."""

from __future__ import annotations

import asyncio
from typing import cast

import grpc

from webhook_gateway.scheme_table import SchemeTable
from webhook_gateway.server_link import ServerLink


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Server:
    def __init__(self, schemes: dict[str, str], ttl: float = 60.0) -> None:
        self.table = schemes
        self.ttl = ttl
        self.calls = 0
        self.down = False

    async def schemes(self) -> tuple[dict[str, str], float]:
        self.calls += 1
        await asyncio.sleep(0)
        if self.down:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down", None
            )
        return dict(self.table), self.ttl


def table(server: Server, clock: Clock, **kwargs: object) -> SchemeTable:
    return SchemeTable(cast(ServerLink, server), {"clickup": "hex-hmac-body-id"}, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_configuration_wins_and_the_server_fills_the_gaps() -> None:
    server = Server({"clickup": "hub-sha256-route", "relay": "hub-sha256-route"})
    schemes = table(server, Clock())
    assert await schemes.scheme_for("clickup") == "hex-hmac-body-id"
    assert server.calls == 0, "a configured integration never asks"
    assert await schemes.scheme_for("relay") == "hub-sha256-route"


async def test_strangers_cost_one_call_per_gap_however_many_arrive() -> None:
    server, clock = Server({}), Clock()
    schemes = table(server, clock, min_gap=30.0)
    names = [f"stranger{i}" for i in range(50)]
    assert await asyncio.gather(*(schemes.scheme_for(name) for name in names)) == [None] * 50
    assert server.calls == 1
    clock.now += 29
    assert await schemes.scheme_for("another") is None
    assert server.calls == 1
    clock.now += 2
    server.table["another"] = "hub-sha256-route"  # an integration added since: found after the gap
    assert await schemes.scheme_for("another") == "hub-sha256-route"
    assert server.calls == 2


async def test_an_answer_outlives_its_ttl_while_the_server_is_away() -> None:
    server, clock = Server({"relay": "hub-sha256-route"}, ttl=60), Clock()
    schemes = table(server, clock, min_gap=1.0)
    assert await schemes.scheme_for("relay") == "hub-sha256-route"
    server.down = True
    clock.now += 120
    assert await schemes.scheme_for("relay") == "hub-sha256-route"
    assert server.calls == 2


async def test_a_scheme_the_gateway_lacks_and_a_disabled_integration_are_refused() -> None:
    server = Server({"relay": "rot13-hmac", "quiet": "hub-sha256-route"})
    schemes = SchemeTable(cast(ServerLink, server), {}, frozenset({"quiet"}), clock=Clock())
    assert await schemes.scheme_for("relay") is None
    assert await schemes.scheme_for("quiet") is None
