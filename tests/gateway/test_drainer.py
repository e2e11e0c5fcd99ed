"""Item 1, the gateway's side: one delivery the server cannot take never holds back the others.

The gateway is served as in production; the server is a real gRPC server whose answers the test
scripts (``scripted_server``), since the real one fails a whole batch only when something is wrong.
The backoff is shortened so that several retries take a moment, not half a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from tests.gateway import scripted_server as scripted
from tests.gateway.support import GatewayServer, metric, ready, sign, task_body
from tests.support import wait_until
from webhook_gateway import __main__ as cli
from webhook_gateway import drainer
from webhook_gateway.config import GatewayConfig

WEBHOOK = "wh-drainer"
SECRET = "drainer-secret"
POISON = b"POISON"


@dataclass
class Rig:
    service: scripted.ScriptedService
    gateway: GatewayServer
    spool_path: Path

    async def send(self, *bodies: bytes) -> None:
        async with httpx.AsyncClient(base_url=self.gateway.url, timeout=10) as client:
            for body in bodies:
                response = await client.post(
                    "/webhooks/clickup",
                    content=body,
                    headers={"Content-Type": "application/json", "X-Signature": sign(SECRET, body)},
                )
                assert response.status_code == 200, response.text

    async def until(self, condition: object, what: str) -> None:
        # In a thread: the scripted server runs on this test's event loop and must keep answering.
        await asyncio.to_thread(wait_until, condition, 30, what)  # type: ignore[arg-type]


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setattr(drainer, "MAX_BACKOFF_SECONDS", 0.2)
    service = scripted.ScriptedService(secrets={WEBHOOK: SECRET})
    server, target = await scripted.start(service)
    config = GatewayConfig(server_target=target, server_token="t", spool_path=tmp_path / "spool.db")
    try:
        with GatewayServer(config) as gateway:
            yield Rig(service, gateway, config.spool_path)
    finally:
        await server.stop(None)


def bodies(count: int) -> list[bytes]:
    return [task_body(WEBHOOK, task_id=f"t{i}") for i in range(count)]


def poison_fails_the_batch(batch: list[bytes]) -> list[scripted.pb.DeliveryResult] | scripted.Failure:
    if any(POISON in body for body in batch):
        return (grpc.StatusCode.INTERNAL, "INTERNAL")
    return [scripted.stored() for _ in batch]


async def test_a_delivery_that_fails_every_batch_is_set_aside_and_the_rest_go_through(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.service.answer = poison_fails_the_batch
    poison = task_body(WEBHOOK, note="POISON")
    good = bodies(20)
    await rig.send(poison, *good)
    await rig.until(lambda: ready(rig.gateway.url)["spool_depth"] == 0, "the spool to drain")
    assert rig.service.kept == good, "every good delivery arrived once, in order"
    assert ready(rig.gateway.url)["dead_letters"] == 1
    assert metric(rig.gateway.url, "gateway_deliveries_dead_lettered_total") == 1
    assert metric(rig.gateway.url, "gateway_dead_letter_depth") == 1
    alone = [batch for batch in rig.service.batches if batch == [poison]]
    assert len(alone) == drainer.ATTEMPTS, "set aside after five failures on its own"

    monkeypatch.setenv("GATEWAY_SPOOL_PATH", str(rig.spool_path))
    assert cli.main(["list-dead"]) == 0
    listed = capsys.readouterr().out
    assert '"attempts": 5' in listed
    assert "INTERNAL" in listed
    rig.service.answer = lambda batch: [scripted.stored() for _ in batch]  # the cause is fixed
    assert cli.main(["requeue-dead"]) == 0
    assert "requeued 1" in capsys.readouterr().out
    await rig.until(lambda: poison in rig.service.kept, "the requeued delivery to be stored")
    await rig.until(lambda: ready(rig.gateway.url)["dead_letters"] == 0, "the dead table to empty")


async def test_when_the_server_fails_everything_nothing_is_set_aside(rig: Rig) -> None:
    rig.service.answer = lambda batch: (grpc.StatusCode.INTERNAL, "INTERNAL")
    sent = bodies(3)
    await rig.send(*sent)
    # The drainer tries the second delivery alone once the first has failed five times: it fails too.
    await rig.until(lambda: [sent[1]] in rig.service.batches, "the drainer to probe the next delivery")
    await rig.until(lambda: rig.service.batches.count([sent[1]]) >= 2, "a second round of probing")
    state = ready(rig.gateway.url)
    assert (state["dead_letters"], state["spool_depth"]) == (0, 3), "an outage is not the deliveries' fault"
    rig.service.answer = lambda batch: [scripted.stored() for _ in batch]
    await rig.until(lambda: rig.service.kept == sent, "all three stored, in order, once the server recovers")


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED])
async def test_a_server_away_is_waited_for_never_blamed_on_a_delivery(rig: Rig, code: grpc.StatusCode) -> None:
    rig.service.answer = lambda batch: (code, code.name)
    sent = bodies(2)
    await rig.send(*sent)
    await rig.until(lambda: len(rig.service.batches) > 3 * drainer.ATTEMPTS, "many failed tries")
    latest = rig.service.batches[-2 * drainer.ATTEMPTS :]  # long after both were spooled
    assert all(batch == sent for batch in latest), "the same batch again and again: not halved, not probed"
    assert ready(rig.gateway.url)["dead_letters"] == 0
    rig.service.answer = lambda batch: [scripted.stored() for _ in batch]
    await rig.until(lambda: rig.service.kept == sent, "stored once the server is back")


async def test_each_delivery_is_settled_by_its_own_result(rig: Rig) -> None:
    invalid, set_aside_by_server, keeps_failing, *good = sent = bodies(5)

    def per_delivery(batch: list[bytes]) -> list[scripted.pb.DeliveryResult]:
        results = []
        for body in batch:
            if body == invalid:
                results.append(scripted.refused(grpc.StatusCode.INVALID_ARGUMENT, "BAD_EVENT"))
            elif body == set_aside_by_server:
                results.append(scripted.pb.DeliveryResult(code=scripted.OK, dead_lettered=True))
            elif body == keeps_failing:
                results.append(scripted.refused(grpc.StatusCode.ABORTED, "CONFLICT"))
            else:
                results.append(scripted.stored())
        return results

    rig.service.answer = per_delivery
    await rig.send(*sent)
    await rig.until(lambda: ready(rig.gateway.url)["spool_depth"] == 0, "the spool to drain")
    assert rig.service.kept[-2:] == good
    assert keeps_failing not in rig.service.kept
    url = rig.gateway.url
    assert metric(url, "gateway_deliveries_forwarded_total", result="refused") == 1
    assert metric(url, "gateway_deliveries_forwarded_total", result="dead_lettered") == 1
    assert metric(url, "gateway_deliveries_dead_lettered_total") == 1, "the ABORTED one, after five tries"
    assert ready(url)["dead_letters"] == 1
