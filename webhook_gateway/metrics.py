"""Prometheus metrics of the gateway (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter("gateway_deliveries_received", "Deliveries received", registry=self.registry)
        self.rejected = Counter(
            "gateway_deliveries_rejected", "Deliveries refused, by reason", ["reason"], registry=self.registry
        )
        self.verified = Counter(
            "gateway_deliveries_verified", "Deliveries with a valid signature", registry=self.registry
        )
        self.spooled = Counter(
            "gateway_deliveries_spooled", "Deliveries written to the local spool", registry=self.registry
        )
        self.spool_depth = Gauge("gateway_spool_depth", "Deliveries waiting in the spool", registry=self.registry)
        self.forward_latency = Histogram(
            "gateway_forward_seconds", "Time for the server to accept a batch of deliveries", registry=self.registry
        )
        self.forwarded = Counter(
            "gateway_deliveries_forwarded",
            "Spooled deliveries the server answered, by result (stored, duplicate, dead_lettered: stored but set "
            "aside by the server, refused: refused for good)",
            ["result"],
            registry=self.registry,
        )
        self.forward_retries = Counter(
            "gateway_forward_retries", "Batches retried because the server could not take them", registry=self.registry
        )
        self.dead_lettered = Counter(
            "gateway_deliveries_dead_lettered",
            "Spooled deliveries the server kept failing on, moved to the spool's dead table",
            registry=self.registry,
        )
        self.dead_depth = Gauge(
            "gateway_dead_letter_depth",
            "Deliveries in the spool's dead table (webhook-gateway requeue-dead sends them again)",
            registry=self.registry,
        )
        self.secret_lookups = Counter(
            "gateway_secret_lookups",
            "GetWebhookSecret calls, by result (found, unknown, invalid, unavailable)",
            ["result"],
            registry=self.registry,
        )
        self.durable_latency = Histogram(
            "gateway_durable_seconds",
            "Time from a verified delivery to its spool commit (what the sender waits for)",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
