"""Regenerating a project's webhook secrets (``RegenerateWebhookSecret``) without refusing a delivery.

For each webhook registered for the integration, under the integration's reconcile lease (never
beside a reconcile or another regeneration of it, on any replica):

1. a new secret is made, sealed, and accepted at once besides the current one, so a delivery
   signed with it can never arrive before the gateway can learn it;
2. the plugin has the third party sign with it (``Integration.rotate_webhook_secret``), one of two ways:

   - **in place** (Jira admin webhooks: the registration PUT whole with the new secret): in one
     transaction the new secret becomes current and the old one stays accepted until the grace
     period ends (``graph/webhook_secrets.py``);
   - **by a replacement** (ClickUp, whose webhooks never change secret): the new webhook, quiet until
     then, is registered and only then turned on; the old one keeps its registration and secret,
     sending alongside (duplicates are harmless: every event re-fetches its object), until the grace
     period ends; then the live-sync supervisor deletes it there and here (``LiveSync.retire_due``).

   A plugin that cannot (Jira dynamic webhooks, signed with the OAuth app's shared client secret)
   refuses with FAILED_PRECONDITION, and nothing has changed.

``GetWebhookSecret`` lists the secrets still accepted, with a TTL that ends with the first grace
period, so the gateway drops an old secret when its grace does.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from graph.webhook_inbox import WebhookRegistration
from graph.webhook_secrets import WebhookSecrets
from server.errors import FailedPrecondition, ServiceError
from server.gallery import Gallery, IntegrationView
from server.integrations.base import WebhookSubscription
from server.integrations.settings import WebhookTarget
from server.live_sync import LiveSync, wants_live_sync
from server.webhooks import WebhookDesk

logger = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(minutes=10)
MAX_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Regenerated:
    view: IntegrationView
    old_secret_expire_time: datetime
    webhooks: int  # registrations given a new secret


class SecretRotation:
    def __init__(self, desk: WebhookDesk, store: WebhookSecrets, gallery: Gallery, live_sync: LiveSync) -> None:
        self._desk = desk
        self._store = store
        self._gallery = gallery
        self._live_sync = live_sync

    async def regenerate(self, org_id: str, project_id: str, name: str, grace: timedelta) -> Regenerated:
        view = await self._gallery.get(org_id, project_id, name)
        key = view.key
        async with self._live_sync.exclusive(key):
            view = await self._gallery.get(org_id, project_id, name)  # as saved now, under the lease
            hooks = await self._current(view)
            if view.settings is None or not wants_live_sync(view) or not hooks:
                raise FailedPrecondition(
                    f"{name} has no webhooks in this project: turn on settings.sync_settings.auto_sync first",
                    reason="NO_WEBHOOKS",
                )
            target = self._live_sync.target(key)
            until = datetime.now(UTC) + grace
            for reg in hooks:
                await self._rotate(view, target, reg, until)
        logger.info(
            "regenerated the secret of %d %s webhook(s) of %s/%s; the old one is accepted until %s",
            len(hooks),
            name,
            org_id,
            project_id,
            until.isoformat(),
        )
        return Regenerated(view, until, len(hooks))

    async def _current(self, view: IntegrationView) -> list[WebhookRegistration]:
        """The integration's registrations, without those already being retired (replaced earlier)."""
        key = view.key
        found = []
        for hook in await self._desk.health(key.org_id, key.project_id, key.name):
            if await self._store.retirement(key.name, hook.webhook_id) is not None:
                continue
            reg = await self._desk.registration(key.name, hook.webhook_id)
            if reg is not None:
                found.append(reg)
        return found

    async def _rotate(
        self, view: IntegrationView, target: WebhookTarget, reg: WebhookRegistration, until: datetime
    ) -> None:
        assert view.settings is not None
        name = reg.integration
        fresh = secrets.token_urlsafe(32)
        sealed = self._desk.seal(name, reg.webhook_id, fresh)
        await self._store.accept(name, reg.webhook_id, sealed, until)  # before the third party has it
        try:
            with _provider_failure(view, reg):
                made = await view.plugin.rotate_webhook_secret(
                    view.settings, target, reg.workspace_id, reg.webhook_id, fresh
                )
        except BaseException:
            with contextlib.suppress(Exception):
                await self._store.withdraw(name, reg.webhook_id, sealed)
            raise
        if made.webhook_id != reg.webhook_id:
            await self._store.withdraw(name, reg.webhook_id, sealed)  # the old webhook keeps its own secret
            await self._replace(view, reg, made, until)
            return
        if made.secret != fresh:  # re-armed with a secret of the third party's own making
            await self._store.withdraw(name, reg.webhook_id, sealed)
            sealed = self._desk.seal(name, reg.webhook_id, made.secret)
        if not await self._store.promote(name, reg.webhook_id, sealed, until):
            raise FailedPrecondition(
                f"webhook {reg.webhook_id} was removed while its secret was regenerated", reason="WEBHOOK_GONE"
            )

    async def _replace(
        self, view: IntegrationView, old: WebhookRegistration, made: WebhookSubscription, until: datetime
    ) -> None:
        """Register the quiet replacement, then turn it on; only then is the old one retired (a crash
        in between leaves both sending, never neither)."""
        assert view.settings is not None
        name, plugin, settings = old.integration, view.plugin, view.settings
        try:
            with _provider_failure(view, old):
                await self._desk.register(
                    name, made.webhook_id, old.org_id, old.project_id, made.container_id, made.secret
                )
                rearmed = await plugin.reactivate_webhook(settings, made.webhook_id)  # it sends from now on
                if rearmed is not None and rearmed != made.secret:
                    await self._desk.register(
                        name, made.webhook_id, old.org_id, old.project_id, made.container_id, rearmed
                    )
        except BaseException:
            with contextlib.suppress(Exception):
                await plugin.delete_webhook(settings, made.webhook_id)
            with contextlib.suppress(Exception):
                await self._desk.unregister(name, made.webhook_id)
            raise
        await self._store.retire(name, old.webhook_id, until)
        logger.info(
            "%s webhook %s replaced by %s; the old one is deleted after %s",
            name,
            old.webhook_id,
            made.webhook_id,
            until.isoformat(),
        )


@contextlib.contextmanager
def _provider_failure(view: IntegrationView, reg: WebhookRegistration) -> Iterator[None]:
    """The third party's (or its client's) failure as the caller sees it: FAILED_PRECONDITION, saying
    that nothing changed for this webhook. A ServiceError (a plugin's own refusal) passes as it is."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as exc:
        raise FailedPrecondition(
            f"{view.plugin.display_name} could not give webhook {reg.webhook_id} a new secret "
            f"({type(exc).__name__}: {exc}); its old secret is unchanged",
            reason="SECRET_ROTATION_FAILED",
        ) from exc
