"""Assembling and running the gRPC server: Neo4j, migrations, plugins, health and reflection."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import timedelta

import grpc
import neo4j
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from graph.analytics import AnalyticsStore
from graph.audit_log import AuditLog
from graph.authorization_states import AuthorizationStates
from graph.connection import GraphConfig, open_driver
from graph.data_deletions import DataDeletionStore
from graph.duty_leases import DutyLeases
from graph.erase import GraphEraser
from graph.import_jobs import ImportJobStore
from graph.integration_store import IntegrationStore
from graph.migrations import migrate
from graph.rate_budgets import RateBudgets
from graph.refresh_leases import RefreshLeases
from graph.schema_keys import ensure_keys
from graph.webhook_inbox import WebhookInbox, WebhookRegistry
from graph.webhook_secrets import WebhookSecrets
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from server.analytics import Analytics
from server.audit import AuditTrail
from server.authorization import Authorizations
from server.config import ServerConfig
from server.data_deletions import DataDeletions
from server.field_mappings import FieldMappings
from server.gallery import Gallery
from server.imports import ImportRunner
from server.integrations.registry import IntegrationRegistry
from server.live_sync import LiveSync
from server.metrics import MetricsInterceptor, ServerMetrics
from server.page_tokens import PageTokens
from server.secret_rotation import SecretRotation
from server.service import IntegrationService
from server.webhook_worker import WebhookWorker
from server.webhooks import WebhookDesk

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["IntegrationService"].full_name
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class HubServer:
    """The running service. ``start`` returns the bound port (useful with port 0)."""

    def __init__(self, config: ServerConfig, registry: IntegrationRegistry | None = None) -> None:
        self.config = config
        self._registry = registry
        self._driver: neo4j.AsyncDriver | None = None
        self._server: grpc.aio.Server | None = None
        self._imports: ImportRunner | None = None
        self._deletions: DataDeletions | None = None
        self._worker: WebhookWorker | None = None
        self.live_sync: LiveSync | None = None
        self.metrics = ServerMetrics()
        self._stop_metrics: Callable[[], None] | None = None
        self._health = health.aio.HealthServicer()  # type: ignore[attr-defined]  # set at import time
        self.port = 0

    async def start(self) -> int:
        cfg = self.config
        self._driver = await open_driver(
            GraphConfig(cfg.neo4j_uri, cfg.neo4j_user, cfg.neo4j_password, cfg.neo4j_database)
        )
        await migrate(self._driver, cfg.neo4j_database)
        registry = self._registry or cfg.plugins
        for plugin in registry.all():  # a new source's labels get their key constraints, no migration needed
            if getattr(plugin, "graph_schema", None) is not None:
                await ensure_keys(self._driver, cfg.neo4j_database, plugin.graph_schema)
        gallery = Gallery(
            registry,
            IntegrationStore(self._driver, cfg.neo4j_database),
            cfg.keyring,
            RefreshLeases(self._driver, cfg.neo4j_database),
            RateBudgets(self._driver, cfg.neo4j_database),
        )
        self.gallery = gallery
        jobs = ImportJobStore(self._driver, cfg.neo4j_database, lease_seconds=cfg.import_lease_seconds)
        imports = ImportRunner(
            self._driver,
            cfg.neo4j_database,
            jobs,
            gallery,
            metrics=self.metrics,
            retention=timedelta(days=cfg.import_job_retention_days),
        )
        self._imports = imports
        if cfg.metrics_address:
            self._stop_metrics = self.metrics.serve(cfg.metrics_address)
        server = grpc.aio.server(
            interceptors=[MetricsInterceptor(self.metrics)],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        inbox = WebhookInbox(self._driver, cfg.neo4j_database)
        webhook_registry = WebhookRegistry(self._driver, cfg.neo4j_database)
        webhook_secrets = WebhookSecrets(self._driver, cfg.neo4j_database)
        webhooks = WebhookDesk(inbox, webhook_registry, cfg.keyring, registry, webhook_secrets)
        self.webhooks = webhooks
        self._worker = WebhookWorker(
            self._driver,
            cfg.neo4j_database,
            inbox,
            webhook_registry,
            gallery,
            lease_seconds=cfg.import_lease_seconds,
            metrics=self.metrics,
            max_attempts=cfg.webhook_max_attempts,
        )
        webhooks.on_stored = self._worker.wake
        self.live_sync = LiveSync(
            webhooks,
            gallery,
            jobs,
            self._driver,
            cfg.neo4j_database,
            cfg.webhook_public_url,
            cfg.live_sync_check_seconds,
            DutyLeases(self._driver, cfg.neo4j_database),
            webhook_secrets,
            imports,  # the scheduled sync is an import job: INCREMENTAL, FULL once a day by default
            timedelta(hours=cfg.full_import_every_hours) if cfg.full_import_every_hours else None,
        )
        self._deletions = DataDeletions(
            DataDeletionStore(self._driver, cfg.neo4j_database, lease_seconds=cfg.import_lease_seconds),
            GraphEraser(self._driver, cfg.neo4j_database),
            gallery,
            self.live_sync,
            self._imports,
            batch=cfg.delete_batch_nodes,
        )
        authorizations = Authorizations(gallery, AuthorizationStates(self._driver, cfg.neo4j_database), cfg.keyring)
        service = IntegrationService(
            gallery,
            cfg.tokens,
            self._imports,
            webhooks,
            self.live_sync,
            PageTokens(cfg.keyring),
            authorizations,
            AuditTrail(AuditLog(self._driver, cfg.neo4j_database)),
            self._deletions,
            Analytics(AnalyticsStore(self._driver, cfg.neo4j_database)),
            SecretRotation(webhooks, webhook_secrets, gallery, self.live_sync),
            FieldMappings(gallery, self._imports),
        )
        pb_grpc.add_IntegrationServiceServicer_to_server(service, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
        self.port = server.add_insecure_port(cfg.grpc_address)
        if self.port == 0:
            raise RuntimeError(f"cannot listen on {cfg.grpc_address}")
        await server.start()
        self._server = server
        await self._imports.start_background()
        await self._deletions.start_background()
        if self._worker is not None and cfg.webhook_worker:
            self._worker.start()
            self.live_sync.start()
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info(
            "IntegrationService listening on %s (port %d), plugins: %s",
            cfg.grpc_address,
            self.port,
            ", ".join(p.name for p in registry.all()),
        )
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking calls, let in-flight calls finish within ``grace``, then close Neo4j."""
        grace = self.config.shutdown_grace_seconds if grace is None else grace
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        if self.live_sync is not None:
            await self.live_sync.stop()
        if self._worker is not None:
            await self._worker.stop()
            self._worker = None
        if self._imports is not None:  # running imports keep their checkpoint; a later owner resumes them
            await self._imports.stop()
            self._imports = None
        if self._deletions is not None:  # a running deletion is resumed by whoever finds its lease run out
            await self._deletions.stop()
            self._deletions = None
        if self._stop_metrics is not None:
            self._stop_metrics()
            self._stop_metrics = None
        if self._driver is not None:
            await self._driver.close()
            self._driver = None
        logger.info("IntegrationService stopped")


async def serve(config: ServerConfig, registry: IntegrationRegistry | None = None) -> None:
    """Run until SIGTERM or SIGINT; ``registry`` replaces the configured plugins (a test's own)."""
    hub = HubServer(config, registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await hub.start()
    try:
        await stop.wait()
        logger.info("shutdown requested; finishing in-flight calls (grace %.0fs)", config.shutdown_grace_seconds)
    finally:
        await hub.stop()
