"""The gateway's calls to the server: hand over spooled deliveries, look up a webhook's secret.

Only the wire lives here; what an answer means (cache it, refuse, retry, set aside) is decided by
``secret_lookup`` and ``drainer``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2, status_pb2

from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from webhook_gateway.spool import Delivery


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The ``google.rpc.ErrorInfo`` reason the server attached to a failed call, or ""."""
    metadata: Any = error.trailing_metadata() or ()
    for key, value in metadata:
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return str(info.reason)
    return ""


class SecretAnswer(NamedTuple):
    secret: str
    ttl: float
    previous: tuple[str, ...] = ()

    def __repr__(self) -> str:  # secrets never reach logs
        return f"SecretAnswer(ttl={self.ttl:g}, previous={len(self.previous)})"


# A lookup happens while ClickUp waits (7 s in all, reading the request included): a server that
# cannot answer one indexed read by then is treated as away (503) rather than making ClickUp time out.
SECRET_TIMEOUT_SECONDS = 1.5


# Deliveries spread over every server replica the target names (``ipv4:a:p,b:p`` or ``dns:///name:p``),
# and move on from one that is down.
SPREAD = (("grpc.lb_policy_name", "round_robin"),)


class ServerLink:
    def __init__(self, target: str, token: str, timeout: float) -> None:
        self._channel = grpc.aio.insecure_channel(target, options=SPREAD)
        self._stub: pb_grpc.IntegrationServiceAsyncStub = pb_grpc.IntegrationServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._timeout = timeout
        self._secret_timeout = min(timeout, SECRET_TIMEOUT_SECONDS)

    async def deliver_many(self, deliveries: list[Delivery]) -> list[pb.DeliveryResult]:
        """Hands over a batch in one call; one result per delivery, in order."""
        events = []
        for delivery in deliveries:
            received = timestamp_pb2.Timestamp()
            received.FromMilliseconds(delivery.received_ms)
            events.append(
                pb.DeliverWebhookEventRequest(
                    integration=delivery.integration,
                    raw_body=delivery.body,
                    signature_verified=True,
                    received_time=received,
                    headers=delivery.headers,
                )
            )
        response: pb.DeliverWebhookEventsResponse = await self._stub.DeliverWebhookEvents(
            pb.DeliverWebhookEventsRequest(events=events), metadata=self._metadata, timeout=self._timeout
        )
        if len(response.results) != len(deliveries):
            raise RuntimeError(f"the server answered {len(response.results)} results for {len(deliveries)} deliveries")
        return list(response.results)

    async def secret(self, integration: str, webhook_id: str) -> SecretAnswer:
        """The webhook's signing secret, how long it may be cached, and the secrets still accepted
        besides it (during a regeneration's grace period); raises the call's error."""
        response: pb.GetWebhookSecretResponse = await self._stub.GetWebhookSecret(
            pb.GetWebhookSecretRequest(integration=integration, webhook_id=webhook_id),
            metadata=self._metadata,
            timeout=self._secret_timeout,
        )
        previous = tuple(str(s) for s in response.previous_secrets if s and s != response.secret)
        return SecretAnswer(str(response.secret), float(max(1, response.ttl.seconds)), previous)

    async def schemes(self) -> tuple[dict[str, str], float]:
        """The server's integration -> signing scheme table and how long it may be kept."""
        response: pb.ListWebhookSchemesResponse = await self._stub.ListWebhookSchemes(
            pb.ListWebhookSchemesRequest(), metadata=self._metadata, timeout=self._secret_timeout
        )
        return dict(response.schemes), float(max(1, response.ttl.seconds))

    async def close(self) -> None:
        await self._channel.close(None)
