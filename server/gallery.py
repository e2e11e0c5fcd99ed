"""The integration gallery: registered plugins merged with each project's stored state.

Owns the rules of an update: which field-mask paths exist, that a masked token sent back
keeps the stored secret, that new credentials are tested before they are saved, and that a
concurrent update is retried on a fresh read rather than overwritten. How settings read on the
wire and at rest is ``settings_codec``'s; what a plugin's options mean is the plugin's.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from google.protobuf import field_mask_pb2

from graph.integration_store import (
    ConcurrentUpdateError,
    FieldMappingRow,
    IntegrationKey,
    IntegrationRecord,
    IntegrationStore,
)
from graph.projects import ProjectOfAnotherOrg
from graph.refresh_leases import RefreshLeases
from integrations.v1 import integration_service_pb2 as pb
from server import settings_codec as codec
from server.crypto import DecryptionError, KeyRing
from server.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from server.integrations.base import AnyIntegration, ConnectionCheck, Outcome
from server.integrations.credentials import OAuthTokens
from server.integrations.field_map import from_rows as field_map
from server.integrations.oauth import GrantRevoked
from server.integrations.rate_budget import SharedBudget
from server.integrations.registry import IntegrationRegistry
from server.integrations.settings import IntegrationSettings
from server.validation import optional_request_id, require_name

logger = logging.getLogger(__name__)

MAX_SETTINGS_BYTES = 16 * 1024
# A refresh holds its lease this long at most (a dead replica's lease runs out by then); a waiter
# gives up after REFRESH_WAIT_SECONDS.
REFRESH_LEASE_SECONDS = 30.0
REFRESH_WAIT_SECONDS = 45.0
REFRESH_POLL_SECONDS = 0.1
UPDATABLE_PATHS = frozenset(
    {
        "enabled",
        "settings",
        "settings.auth_method",
        "settings.api_token",
        "settings.data_mapping",
        "settings.data_mapping.workspace_ids",
        "settings.data_mapping.include_comments",
        "settings.sync_settings",
        "settings.sync_settings.auto_sync",
        "settings.sync_settings.sync_interval",
        "settings.options",
    }
)
_OPTION_PATH = re.compile(r"settings\.options\.([a-z][a-z0-9_]{0,63})")
AnySettings = codec.AnySettings
_SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class IntegrationView:
    plugin: AnyIntegration
    key: IntegrationKey
    record: IntegrationRecord | None
    settings: AnySettings | None


class SettingsUnreadable(FailedPrecondition):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"stored settings of {name!r} cannot be decrypted (tampered, or sealed with a key that is "
            "not configured); replace them with a full 'settings' update",
            reason="SETTINGS_UNREADABLE",
        )


class Gallery:
    def __init__(
        self,
        registry: IntegrationRegistry,
        store: IntegrationStore,
        keyring: KeyRing,
        leases: RefreshLeases,
        budgets: SharedBudget | None = None,
    ) -> None:
        """``budgets``: the providers' request budgets as every replica shares them; None: each
        process counts its own requests."""
        self._registry = registry
        self._store = store
        self._keyring = keyring
        self._leases = leases
        self._budgets = budgets
        self._owner = f"gallery-{uuid.uuid4().hex[:12]}"
        self._refreshing: dict[IntegrationKey, asyncio.Lock] = {}

    def _plugin(self, name: str) -> AnyIntegration:
        require_name("name", name)
        plugin = self._registry.get(name)
        if plugin is None:
            known = ", ".join(p.name for p in self._registry.all())
            raise NotFound(f"no integration named {name!r}; known: {known}", reason="UNKNOWN_INTEGRATION")
        return plugin

    def _open(self, record: IntegrationRecord | None) -> AnySettings | None:
        if record is None or record.settings_ciphertext is None:
            return None
        key = record.key
        try:
            plaintext = self._keyring.open(record.settings_ciphertext, codec.aad(key.org_id, key.project_id, key.name))
            return codec.unseal(plaintext, self._plugin(key.name))
        except (DecryptionError, codec.SettingsUnreadable) as exc:
            logger.error("settings of %s/%s/%s unreadable: %s", key.org_id, key.project_id, key.name, exc)
            raise SettingsUnreadable(key.name) from None

    def _opened(self, record: IntegrationRecord | None) -> AnySettings | None:
        """Stored settings, with the sink a refreshed OAuth token set is sealed back through and the
        shared request budget."""
        settings = self._open(record)
        if settings is None or record is None:
            return settings
        key = record.key

        async def refresh(stale: OAuthTokens) -> OAuthTokens:
            return await self.refresh_tokens(key, stale)

        return replace(settings, refresh=refresh, rate_budget=self._budgets, fields=field_map(record.field_mappings))

    async def save_field_mappings(self, key: IntegrationKey, rows: tuple[FieldMappingRow, ...]) -> IntegrationView:
        """Store the project's custom-field mapping (validated by the caller); settings stay as they are."""
        plugin = self._plugin(key.name)
        for _ in range(_SAVE_ATTEMPTS):
            record = await self._store.get(key)
            if record is None or not record.configured:
                raise FailedPrecondition(f"configure {plugin.display_name} first", reason="NOT_CONFIGURED")
            try:
                saved = await self._store.save(record.with_changes(field_mappings=rows))
            except ConcurrentUpdateError:
                continue
            return IntegrationView(plugin, key, saved, self._opened(saved))
        raise Aborted("the integration kept changing; try again", reason="CONCURRENT_UPDATE")

    async def keep_tokens(self, key: IntegrationKey, tokens: OAuthTokens) -> bool:
        """Seal a refreshed OAuth token set in place of the stored one (the refresh token may be
        single-use: losing the new one would lock the project out). Other settings stay as they are."""
        for _ in range(_SAVE_ATTEMPTS):
            record = await self._store.get(key)
            current = self._open(record)
            if record is None or current is None or not isinstance(current.credentials, OAuthTokens):
                logger.warning("refreshed tokens of %s/%s/%s not kept: no OAuth settings", *_names(key))
                return False
            try:
                await self._store.save(
                    record.with_changes(
                        settings_ciphertext=self._seal(key, current.with_credentials(tokens)),
                        settings_key_id=self._keyring.primary_key_id,
                    )
                )
            except ConcurrentUpdateError:
                continue
            logger.info("refreshed OAuth tokens of %s/%s/%s sealed", *_names(key))
            return True
        logger.error("refreshed tokens of %s/%s/%s not kept: the settings kept changing", *_names(key))
        return False

    async def _stored_tokens(self, key: IntegrationKey) -> OAuthTokens | None:
        settings = self._open(await self._store.get(key))
        return settings.credentials if settings is not None and isinstance(settings.credentials, OAuthTokens) else None

    async def refresh_tokens(self, key: IntegrationKey, stale: OAuthTokens) -> OAuthTokens:
        """A fresh token set for ``stale``, refreshed by one caller across all replicas.

        Whoever holds the project's refresh lease asks the third party and seals the new set before
        anyone uses it; everyone else waits for the sealed set to change and uses that. So a rotating
        refresh token is spent once per expiry, whatever the number of replicas and requests.
        """
        lock = self._refreshing.setdefault(key, asyncio.Lock())  # one refresher per process, too
        async with lock:
            deadline = time.monotonic() + REFRESH_WAIT_SECONDS
            while True:
                current = await self._stored_tokens(key)
                if current is not None and current.access_token != stale.access_token and not current.expired():
                    return current  # refreshed meanwhile, here or on another replica
                if await self._leases.acquire(key.org_id, key.project_id, key.name, self._owner, REFRESH_LEASE_SECONDS):
                    try:
                        return await self._refresh_holding_lease(key, stale)
                    finally:
                        await self._leases.release(key.org_id, key.project_id, key.name, self._owner)
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"another replica's refresh of the {key.name} tokens did not finish; retry",
                        reason="REFRESH_TIMEOUT",
                    )
                await asyncio.sleep(REFRESH_POLL_SECONDS)

    async def _refresh_holding_lease(self, key: IntegrationKey, stale: OAuthTokens) -> OAuthTokens:
        current = await self._stored_tokens(key)  # read again under the lease: it is the last word
        if current is not None and current.access_token != stale.access_token and not current.expired():
            return current
        base = current or stale
        plugin = self._plugin(key.name)
        try:
            fresh = await plugin.refresh_tokens(base)
        except GrantRevoked as exc:
            await self.needs_reauthorization(key, str(exc))
            raise
        if not fresh.refresh_token:  # providers that do not rotate it keep the old one valid
            fresh = replace(fresh, refresh_token=base.refresh_token)
        if not fresh.account_id and not fresh.site_id:
            fresh = replace(fresh, account_id=base.account_id, site_id=base.site_id)
        if not await self.keep_tokens(key, fresh):
            raise Aborted(f"the refreshed {key.name} tokens could not be sealed; retry", reason="REFRESH_NOT_KEPT")
        return fresh

    def plugin(self, name: str) -> AnyIntegration:
        """The registered plugin ``name`` (NOT_FOUND naming the known ones otherwise)."""
        return self._plugin(name)

    async def connect(self, key: IntegrationKey, tokens: OAuthTokens) -> tuple[IntegrationView, ConnectionCheck]:
        """Save a token set from a completed sign-in in place of the stored credentials.

        The rest of the settings stays (a reconnect keeps what the project chose); a first
        connection starts from the plugin's default options and is enabled. The tokens are tested
        first and saved only if the test passes; a project that needed reauthorization is then
        connected again.
        """
        plugin = self._plugin(key.name)
        plugin.validate_credentials(tokens, "code")
        check: ConnectionCheck | None = None
        for _ in range(_SAVE_ATTEMPTS):
            record = await self._store.get(key) or IntegrationRecord(key)
            try:
                current = self._open(record)
            except SettingsUnreadable:
                current = None
            if current is not None:
                settings = current.with_credentials(tokens)
            else:
                settings = IntegrationSettings(tokens, plugin.parse_options({}, "settings.options"))
            if check is None:
                check = await plugin.test_connection(settings)
                if not check.ok:
                    raise FailedPrecondition(
                        f"signed in, but the connection test failed, so nothing was saved: {check.message}",
                        reason="CONNECTION_TEST_FAILED",
                    )
            new = record.with_changes(
                enabled=record.enabled or not record.configured,
                connection_status=check.outcome.value,
                last_error="",
                last_tested_at=datetime.now(UTC),
                settings_ciphertext=self._seal(key, settings),
                settings_key_id=self._keyring.primary_key_id,
            )
            try:
                saved = await self._save(new)
            except ConcurrentUpdateError:
                continue
            logger.info("%s connected through OAuth for %s/%s", key.name, key.org_id, key.project_id)
            return IntegrationView(plugin, key, saved, self._opened(saved)), check
        raise Aborted("the integration kept changing concurrently; sign in again", reason="CONCURRENT_UPDATE")

    async def needs_reauthorization(self, key: IntegrationKey, message: str) -> None:
        """Record that the third party says the grant is gone: imports and live sync pause for it
        until a new sign-in (``connect``)."""
        for _ in range(_SAVE_ATTEMPTS):
            record = await self._store.get(key)
            if record is None or record.connection_status == Outcome.NEEDS_REAUTHORIZATION.value:
                return
            try:
                await self._store.save(
                    record.with_changes(connection_status=Outcome.NEEDS_REAUTHORIZATION.value, last_error=message[:500])
                )
            except ConcurrentUpdateError:
                continue
            logger.warning(
                "%s of %s/%s needs a new sign-in (%s): imports and live sync paused, webhook events kept",
                key.name,
                key.org_id,
                key.project_id,
                message,
            )
            return

    async def _save(self, record: IntegrationRecord) -> IntegrationRecord:
        """Save (compare-and-set: ``ConcurrentUpdateError`` for the caller to retry on a fresh read)."""
        try:
            return await self._store.save(record)
        except ProjectOfAnotherOrg:
            raise AlreadyExists(
                f"project id {record.key.project_id!r} is already used by another org; project ids are unique "
                "across orgs",
                reason="PROJECT_OF_ANOTHER_ORG",
            ) from None

    def _seal(self, key: IntegrationKey, settings: AnySettings) -> str:
        return codec.seal(self._keyring, self._plugin(key.name), key.org_id, key.project_id, settings)

    async def list(self, org_id: str, project_id: str) -> list[IntegrationView]:
        stored = {r.key.name: r for r in await self._store.list_for_project(org_id, project_id)}
        views = []
        for plugin in self._registry.all():
            record = stored.get(plugin.name)
            try:
                settings = self._opened(record)
            except SettingsUnreadable as exc:  # one bad row must not hide the whole gallery
                assert record is not None
                record = record.with_changes(connection_status="ERROR", last_error=exc.message)
                settings = None
            views.append(IntegrationView(plugin, IntegrationKey(org_id, project_id, plugin.name), record, settings))
        return views

    async def enabled(self) -> tuple[IntegrationKey, ...]:
        """Every enabled integration, across projects."""
        return tuple(await self._store.enabled_keys())

    async def get(self, org_id: str, project_id: str, name: str) -> IntegrationView:
        plugin = self._plugin(name)
        key = IntegrationKey(org_id, project_id, name)
        record = await self._store.get(key)
        return IntegrationView(plugin, key, record, self._opened(record))

    async def update(
        self, org_id: str, project_id: str, change: pb.Integration, mask: field_mask_pb2.FieldMask, request_id: str
    ) -> IntegrationView:
        plugin = self._plugin(change.name)
        optional_request_id("request_id", request_id)
        paths = _validate_mask(mask)
        if change.org_id and change.org_id != org_id:
            raise InvalidArgument("integration.org_id", "must be empty or equal org_id")
        if change.project_id and change.project_id != project_id:
            raise InvalidArgument("integration.project_id", "must be empty or equal project_id")
        size = change.settings.ByteSize()
        if size > MAX_SETTINGS_BYTES:
            raise InvalidArgument("integration.settings", f"too large ({size} bytes; at most {MAX_SETTINGS_BYTES})")
        key = IntegrationKey(org_id, project_id, plugin.name)
        tested: dict[str, ConnectionCheck] = {}
        for _ in range(_SAVE_ATTEMPTS):
            record = await self._store.get(key) or IntegrationRecord(key)
            if request_id and record.last_request_id == request_id:
                return IntegrationView(plugin, key, record, self._opened(record))
            try:
                current = self._open(record)
            except SettingsUnreadable:
                if "settings" not in paths:
                    raise
                current = None
            updated = _apply_settings(plugin, current, change.settings, paths)
            enabled = change.enabled if "enabled" in paths else record.enabled
            if enabled and updated is None:
                raise FailedPrecondition(
                    f"{plugin.display_name} needs settings with an API token before it can be enabled",
                    reason="NOT_CONFIGURED",
                )
            new = record.with_changes(enabled=enabled, last_request_id=request_id or record.last_request_id)
            if updated is not None and (current is None or updated.credentials != current.credentials):
                token = updated.credentials.secret
                if token not in tested:
                    tested[token] = await plugin.test_connection(updated)
                check = tested[token]
                if not check.ok:
                    raise FailedPrecondition(
                        f"new credentials were not saved: {check.message}", reason="CONNECTION_TEST_FAILED"
                    )
                new = new.with_changes(
                    connection_status=check.outcome.value, last_error="", last_tested_at=datetime.now(UTC)
                )
            if updated is not None and updated is not current:
                new = new.with_changes(
                    settings_ciphertext=self._seal(key, updated), settings_key_id=self._keyring.primary_key_id
                )
            try:
                saved = await self._save(new)
            except ConcurrentUpdateError:
                continue
            logger.info(
                "integration %s updated for %s/%s (paths: %s)", key.name, org_id, project_id, ",".join(sorted(paths))
            )
            return IntegrationView(plugin, key, saved, self._opened(saved) if updated is not None else None)
        raise Aborted("the integration kept changing concurrently; retry the update", reason="CONCURRENT_UPDATE")

    async def test(
        self, org_id: str, project_id: str, name: str, supplied: pb.IntegrationSettings | None
    ) -> ConnectionCheck:
        plugin = self._plugin(name)
        key = IntegrationKey(org_id, project_id, name)
        record = await self._store.get(key)
        stored = self._opened(record)
        settings: AnySettings
        if supplied is not None:
            if supplied.ByteSize() > MAX_SETTINGS_BYTES:
                raise InvalidArgument("settings", f"too large (at most {MAX_SETTINGS_BYTES} bytes)")
            settings = codec.from_wire(plugin, supplied, "settings", stored)
        elif stored is not None:
            settings = stored
        else:
            raise FailedPrecondition(
                f"{plugin.display_name} is not configured for this project", reason="NOT_CONFIGURED"
            )
        check = await plugin.test_connection(settings)
        if supplied is None and record is not None:
            await self._record_check(record, check)
        return check

    async def _record_check(self, record: IntegrationRecord, check: ConnectionCheck) -> None:
        error = "" if check.ok else check.message
        try:
            await self._store.save(
                record.with_changes(
                    connection_status=check.outcome.value, last_error=error, last_tested_at=datetime.now(UTC)
                )
            )
        except ConcurrentUpdateError:  # an update raced us; its own state wins
            logger.info("connection status of %s not recorded: concurrent update", record.key.name)


def _names(key: IntegrationKey) -> tuple[str, str, str]:
    return key.org_id, key.project_id, key.name


def _validate_mask(mask: field_mask_pb2.FieldMask) -> set[str]:
    if not mask.paths:
        raise InvalidArgument("update_mask", "must name at least one field, e.g. 'enabled' or 'settings'")
    for path in mask.paths:
        if path not in UPDATABLE_PATHS and not _OPTION_PATH.fullmatch(path):
            allowed = ", ".join(sorted(UPDATABLE_PATHS | {"settings.options.<key>"}))
            raise InvalidArgument("update_mask", f"unknown or read-only path {path!r}; allowed: {allowed}")
    return set(mask.paths)


def _apply_settings(
    plugin: AnyIntegration, current: AnySettings | None, incoming: pb.IntegrationSettings, paths: set[str]
) -> AnySettings | None:
    """Merge the masked settings paths into ``current``; returns ``current`` if untouched.

    The generic fields merge as the wire message; options merge as a plain mapping (whole, per key,
    or through the older ``data_mapping`` spelling), then the plugin reads the result, so its errors
    name the path the caller used.
    """
    sub_paths = sorted(p.removeprefix("settings.") for p in paths if p.startswith("settings"))
    if not sub_paths:
        return current
    if "settings" in sub_paths:
        return codec.from_wire(plugin, incoming, "settings", current)
    base = codec.to_wire(plugin, current, reveal=True) if current is not None else pb.IntegrationSettings()
    wire_paths = [p for p in sub_paths if p.split(".")[0] in ("auth_method", "api_token", "sync_settings")]
    if wire_paths:
        field_mask_pb2.FieldMask(paths=wire_paths).MergeMessage(
            incoming, base, replace_message_field=True, replace_repeated_field=True
        )
    options: dict[str, Any] = plugin.dump_options(current.options) if current is not None else {}
    options_path = "settings.options"
    incoming_options = codec.struct_dict(incoming.options)
    for path in sub_paths:
        if path == "options":
            options = dict(incoming_options)
        elif path.startswith("options."):
            key = path.removeprefix("options.")
            if key in incoming_options:
                options[key] = incoming_options[key]
            else:
                options.pop(key, None)
        elif path == "data_mapping":
            options_path = "settings.data_mapping"
            for key in codec.LEGACY_OPTION_KEYS:
                options.pop(key, None)
            options.update(codec.legacy_options(incoming.data_mapping))
        elif path == "data_mapping.workspace_ids":
            options_path = "settings.data_mapping"
            options["workspace_ids"] = list(incoming.data_mapping.workspace_ids)
        elif path == "data_mapping.include_comments":
            options_path = "settings.data_mapping"
            options["include_comments"] = incoming.data_mapping.include_comments
    return codec.from_wire(plugin, base, "settings", current, options, options_path)
