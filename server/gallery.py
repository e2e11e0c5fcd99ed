"""The integration gallery: registered plugins merged with each project's stored state.

Owns the rules of an update: which field-mask paths exist, that a masked token sent back
keeps the stored secret, that new credentials are tested before they are saved, and that a
concurrent update is retried on a fresh read rather than overwritten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf import field_mask_pb2

from graph.integration_store import ConcurrentUpdateError, IntegrationKey, IntegrationRecord, IntegrationStore
from graph.projects import ProjectOfAnotherOrg
from integrations.v1 import integration_service_pb2 as pb
from server.crypto import DecryptionError, KeyRing, record_aad
from server.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from server.integrations.base import ConnectionCheck, Integration
from server.integrations.registry import IntegrationRegistry
from server.secrets_mask import is_mask_of
from server.validation import optional_request_id, require_name

logger = logging.getLogger(__name__)

MAX_SETTINGS_BYTES = 16 * 1024
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
    }
)
_SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class IntegrationView:
    plugin: Integration
    key: IntegrationKey
    record: IntegrationRecord | None
    settings: pb.IntegrationSettings | None


class SettingsUnreadable(FailedPrecondition):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"stored settings of {name!r} cannot be decrypted (tampered, or sealed with a key that is "
            "not configured); replace them with a full 'settings' update",
            reason="SETTINGS_UNREADABLE",
        )


class Gallery:
    def __init__(self, registry: IntegrationRegistry, store: IntegrationStore, keyring: KeyRing) -> None:
        self._registry = registry
        self._store = store
        self._keyring = keyring

    def _plugin(self, name: str) -> Integration:
        require_name("name", name)
        plugin = self._registry.get(name)
        if plugin is None:
            known = ", ".join(p.name for p in self._registry.all())
            raise NotFound(f"no integration named {name!r}; known: {known}", reason="UNKNOWN_INTEGRATION")
        return plugin

    def _open(self, record: IntegrationRecord | None) -> pb.IntegrationSettings | None:
        if record is None or record.settings_ciphertext is None:
            return None
        key = record.key
        try:
            plaintext = self._keyring.open(record.settings_ciphertext, record_aad(key.org_id, key.project_id, key.name))
        except DecryptionError as exc:
            logger.error("settings of %s/%s/%s unreadable: %s", key.org_id, key.project_id, key.name, exc)
            raise SettingsUnreadable(key.name) from None
        settings = pb.IntegrationSettings()
        settings.ParseFromString(plaintext)
        return settings

    def _seal(self, key: IntegrationKey, settings: pb.IntegrationSettings) -> str:
        plaintext = settings.SerializeToString(deterministic=True)
        return self._keyring.seal(plaintext, record_aad(key.org_id, key.project_id, key.name))

    async def list(self, org_id: str, project_id: str) -> list[IntegrationView]:
        stored = {r.key.name: r for r in await self._store.list_for_project(org_id, project_id)}
        views = []
        for plugin in self._registry.all():
            record = stored.get(plugin.name)
            try:
                settings = self._open(record)
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
        return IntegrationView(plugin, key, record, self._open(record))

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
                return IntegrationView(plugin, key, record, self._open(record))
            try:
                current = self._open(record)
            except SettingsUnreadable:
                if "settings" not in paths:
                    raise
                current = None
            updated = _apply_settings(current, change.settings, paths)
            if updated is not None and updated is not current:
                plugin.validate_settings(updated)
            enabled = change.enabled if "enabled" in paths else record.enabled
            if enabled and updated is None:
                raise FailedPrecondition(
                    f"{plugin.display_name} needs settings with an API token before it can be enabled",
                    reason="NOT_CONFIGURED",
                )
            new = record.with_changes(enabled=enabled, last_request_id=request_id or record.last_request_id)
            if updated is not None and (
                current is None or updated.api_token != current.api_token or updated.auth_method != current.auth_method
            ):
                token = updated.api_token
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
                saved = await self._store.save(new)
            except ConcurrentUpdateError:
                continue
            except ProjectOfAnotherOrg:
                raise AlreadyExists(
                    f"project id {project_id!r} is already used by another org; project ids are unique across orgs",
                    reason="PROJECT_OF_ANOTHER_ORG",
                ) from None
            logger.info(
                "integration %s updated for %s/%s (paths: %s)", key.name, org_id, project_id, ",".join(sorted(paths))
            )
            return IntegrationView(plugin, key, saved, updated)
        raise Aborted("the integration kept changing concurrently; retry the update", reason="CONCURRENT_UPDATE")

    async def test(
        self, org_id: str, project_id: str, name: str, supplied: pb.IntegrationSettings | None
    ) -> ConnectionCheck:
        plugin = self._plugin(name)
        key = IntegrationKey(org_id, project_id, name)
        record = await self._store.get(key)
        stored = self._open(record)
        if supplied is not None:
            if supplied.ByteSize() > MAX_SETTINGS_BYTES:
                raise InvalidArgument("settings", f"too large (at most {MAX_SETTINGS_BYTES} bytes)")
            settings = pb.IntegrationSettings()
            settings.CopyFrom(supplied)
            if stored is not None and (not settings.api_token or is_mask_of(settings.api_token, stored.api_token)):
                settings.api_token = stored.api_token
            plugin.validate_settings(settings)
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


def _validate_mask(mask: field_mask_pb2.FieldMask) -> set[str]:
    if not mask.paths:
        raise InvalidArgument("update_mask", "must name at least one field, e.g. 'enabled' or 'settings'")
    for path in mask.paths:
        if path not in UPDATABLE_PATHS:
            allowed = ", ".join(sorted(UPDATABLE_PATHS))
            raise InvalidArgument("update_mask", f"unknown or read-only path {path!r}; allowed: {allowed}")
    return set(mask.paths)


def _apply_settings(
    current: pb.IntegrationSettings | None, incoming: pb.IntegrationSettings, paths: set[str]
) -> pb.IntegrationSettings | None:
    """Merge the masked settings paths into a copy of ``current``; returns ``current`` if untouched."""
    sub_paths = sorted(p.removeprefix("settings.") for p in paths if p.startswith("settings"))
    if not sub_paths:
        return current
    merged = pb.IntegrationSettings()
    if current is not None:
        merged.CopyFrom(current)
    if "settings" in sub_paths:
        merged.CopyFrom(incoming)
    else:
        sub_mask = field_mask_pb2.FieldMask(paths=sub_paths)
        sub_mask.MergeMessage(incoming, merged, replace_message_field=True, replace_repeated_field=True)
    if current is not None and (not merged.api_token or is_mask_of(merged.api_token, current.api_token)):
        merged.api_token = current.api_token  # the masked hint (or nothing) sent back keeps the secret
    if not merged.api_token:
        raise InvalidArgument("settings.api_token", "must be set the first time an integration is configured")
    if merged.auth_method == pb.AUTH_METHOD_UNSPECIFIED:
        merged.auth_method = pb.AUTH_METHOD_API_TOKEN
    return merged
