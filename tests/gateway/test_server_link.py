"""The gateway's link to the server, when the target names several replicas (issue 13, item 5)."""

from __future__ import annotations

import grpc

from tests.gateway import scripted_server as scripted
from tests.support import wait_for
from webhook_gateway.server_link import ServerLink

WEBHOOK, SECRET = "wh-replicas", "s3cr3t-replicas"


async def answers(link: ServerLink) -> bool:
    try:
        return (await link.secret("jira", WEBHOOK))[0] == SECRET
    except grpc.aio.AioRpcError:
        return False


async def test_lookups_spread_over_the_replicas_and_go_on_when_one_stops() -> None:
    services = [scripted.ScriptedService(secrets={WEBHOOK: SECRET}) for _ in range(2)]
    started = [await scripted.start(service) for service in services]
    link = ServerLink("ipv4:" + ",".join(target for _, target in started), "gateway-token", timeout=5)
    try:
        for _ in range(6):
            assert (await link.secret("jira", WEBHOOK))[0] == SECRET
        assert all(service.secret_calls for service in services), [len(s.secret_calls) for s in services]
        await started[0][0].stop(grace=0)
        # A call that was already on its way to the stopped replica may fail (the sender retries it);
        # once the channel has seen the replica go, every call goes to the other.
        await wait_for(lambda: answers(link), 5, "a lookup after one replica stopped")
        for _ in range(4):
            assert (await link.secret("jira", WEBHOOK))[0] == SECRET
    finally:
        await link.close()
        await started[1][0].stop(grace=0)
