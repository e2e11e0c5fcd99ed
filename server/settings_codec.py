"""Settings on the wire and at rest, for every plugin alike.

On the wire (``pb.IntegrationSettings``) the generic parts have fields of their own (``auth_method``,
``api_token``, ``sync_settings``) and a plugin's options travel in ``options``, a
``google.protobuf.Struct`` the plugin parses (so field masks and errors name real paths:
``settings.options.workspace_ids[2]``). ``data_mapping`` is the older spelling of two option keys
(``workspace_ids``, ``include_comments``); it is still read, and still filled in responses when the
plugin has those options.

At rest the settings are one sealed JSON blob, versioned twice: the blob's own ``format`` and the
plugin's ``options_version``. Blobs sealed before this format (the serialized wire message) are
still opened; the next update re-seals them in the new one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from google.protobuf import json_format, struct_pb2

from integrations.v1 import integration_service_pb2 as pb
from server.crypto import KeyRing, record_aad
from server.errors import InvalidArgument
from server.integrations.base import AnyIntegration
from server.integrations.credentials import (
    ApiToken,
    AuthMethod,
    Credentials,
    CredentialsUnreadable,
    OAuthTokens,
    credentials_from_dict,
    method_of,
)
from server.integrations.settings import IntegrationSettings, SyncPolicy
from server.secrets_mask import is_mask_of, mask_secret

FORMAT = 2
MIN_SYNC_INTERVAL_S = 60
MAX_SYNC_INTERVAL_S = 7 * 24 * 3600
LEGACY_OPTION_KEYS = ("workspace_ids", "include_comments")  # what DataMapping spells
AnySettings = IntegrationSettings[Any]
WIRE_METHODS: dict[int, AuthMethod] = {
    pb.AUTH_METHOD_API_TOKEN: AuthMethod.API_TOKEN,
    pb.AUTH_METHOD_OAUTH: AuthMethod.OAUTH,
}


def wire_method(method: AuthMethod) -> pb.AuthMethod.ValueType:
    return pb.AUTH_METHOD_OAUTH if method is AuthMethod.OAUTH else pb.AUTH_METHOD_API_TOKEN


class SettingsUnreadable(ValueError):
    """A blob that opened but does not read as settings of this plugin (never shows its values)."""


def aad(org_id: str, project_id: str, name: str) -> bytes:
    return record_aad(org_id, project_id, name)


# -- at rest ----------------------------------------------------------------------------------------


def seal(keyring: KeyRing, plugin: AnyIntegration, org_id: str, project_id: str, settings: AnySettings) -> str:
    blob = {
        "format": FORMAT,
        "options_version": plugin.options_version,
        "credentials": settings.credentials.to_dict(),
        "options": plugin.dump_options(settings.options),
        "sync": {"auto_sync": settings.sync.auto_sync, "interval_seconds": settings.sync.interval_seconds},
    }
    plaintext = json.dumps(blob, sort_keys=True, separators=(",", ":")).encode()
    return keyring.seal(plaintext, aad(org_id, project_id, plugin.name))


def unseal(plaintext: bytes, plugin: AnyIntegration) -> AnySettings:
    """Settings from an opened blob; ``SettingsUnreadable`` when it is not this plugin's settings."""
    if not plaintext.startswith(b"{"):  # sealed before FORMAT 2: the wire message (never starts with '{')
        legacy = pb.IntegrationSettings()
        try:
            legacy.ParseFromString(plaintext)
            return from_wire(plugin, legacy, "stored")
        except Exception as exc:  # a DecodeError, or old data today's rules refuse
            raise SettingsUnreadable(f"old-format settings do not read ({type(exc).__name__})") from None
    try:
        blob = json.loads(plaintext)
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise SettingsUnreadable("unknown settings format")
        options = blob.get("options")
        version = blob.get("options_version")
        sync = blob.get("sync") or {}
        if not isinstance(options, dict) or not isinstance(version, int) or not isinstance(sync, dict):
            raise SettingsUnreadable("settings blob is missing its parts")
        if version > plugin.options_version:
            raise SettingsUnreadable(f"options version {version} is newer than this server's")
        if version < plugin.options_version:
            options = plugin.upgrade_options(version, options)
        return IntegrationSettings(
            credentials_from_dict(blob.get("credentials")),
            plugin.parse_options(options, "stored.options"),
            SyncPolicy(bool(sync.get("auto_sync", False)), int(sync.get("interval_seconds", 0))),
        )
    except SettingsUnreadable:
        raise
    except (ValueError, TypeError, CredentialsUnreadable, InvalidArgument) as exc:
        raise SettingsUnreadable(f"settings blob does not read ({type(exc).__name__})") from None


# -- on the wire ------------------------------------------------------------------------------------


def to_wire(plugin: AnyIntegration, settings: AnySettings, *, reveal: bool = False) -> pb.IntegrationSettings:
    """The wire form; the secret is masked unless ``reveal`` (internal merges only)."""
    options = plugin.dump_options(settings.options)
    message = pb.IntegrationSettings(
        auth_method=wire_method(method_of(settings.credentials)),
        api_token=settings.credentials.secret if reveal else mask_secret(settings.credentials.secret),
        sync_settings=pb.SyncSettings(auto_sync=settings.sync.auto_sync),
    )
    if settings.sync.interval_seconds:
        message.sync_settings.sync_interval.seconds = settings.sync.interval_seconds
    message.options.update(options)
    ids = options.get("workspace_ids")
    if isinstance(ids, list):
        message.data_mapping.workspace_ids.extend(str(i) for i in ids)
    if isinstance(options.get("include_comments"), bool):
        message.data_mapping.include_comments = options["include_comments"]
    return message


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    value = json_format.MessageToDict(struct)
    return value if isinstance(value, dict) else {}


def legacy_options(mapping: pb.DataMapping) -> dict[str, Any]:
    """DataMapping's fields as option keys; only those set, so plugins without them see nothing."""
    options: dict[str, Any] = {}
    if mapping.workspace_ids:
        options["workspace_ids"] = list(mapping.workspace_ids)
    if mapping.include_comments:
        options["include_comments"] = True
    return options


def options_of(
    message: pb.IntegrationSettings, path: str, stored: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """The options a whole settings message carries, and the path errors in them are named under.

    A message may carry both spellings: a response sent back with one of them edited. For each
    key both spell, the one that differs from what is stored is the edit and wins (``options``
    when both differ); a ``data_mapping`` the caller did not set is not read at all.
    """
    if not message.HasField("options"):
        return legacy_options(message.data_mapping), f"{path}.data_mapping"
    options, where = struct_dict(message.options), f"{path}.options"
    if not message.HasField("data_mapping"):
        return options, where
    spelled = {
        "workspace_ids": list(message.data_mapping.workspace_ids),
        "include_comments": message.data_mapping.include_comments,
    }
    was = stored or {}
    for key, value in spelled.items():
        if key not in options:
            if value:
                options[key], where = value, f"{path}.data_mapping"
        elif value != options[key] and options[key] == was.get(key):
            options[key], where = value, f"{path}.data_mapping"
    return options, where


def credentials_of(
    plugin: AnyIntegration, message: pb.IntegrationSettings, path: str, current: Credentials | None
) -> Credentials:
    """The credentials a message means: the masked hint (or nothing) sent back keeps the stored ones."""
    method = WIRE_METHODS.get(message.auth_method or pb.AUTH_METHOD_API_TOKEN)
    if method is None or method not in plugin.auth_methods:
        names = " or ".join(pb.AuthMethod.Name(wire_method(m)) for m in plugin.auth_methods)
        raise InvalidArgument(f"{path}.auth_method", f"must be {names}")
    oauth = method is AuthMethod.OAUTH
    token = message.api_token
    if current is not None and (not token or is_mask_of(token, current.secret)):
        if isinstance(current, OAuthTokens) == oauth:
            return current
        token = current.secret  # the same secret under the other method
    if not token:
        raise InvalidArgument(f"{path}.api_token", "must be set the first time an integration is configured")
    credentials: Credentials = OAuthTokens(token) if oauth else ApiToken(token)
    plugin.validate_credentials(credentials, f"{path}.api_token")
    return credentials


def sync_of(message: pb.SyncSettings, path: str) -> SyncPolicy:
    interval = message.sync_interval
    seconds = interval.seconds + interval.nanos / 1e9
    if seconds and not MIN_SYNC_INTERVAL_S <= seconds <= MAX_SYNC_INTERVAL_S:
        raise InvalidArgument(
            f"{path}.sync_settings.sync_interval",
            f"must be 0 (default) or between {MIN_SYNC_INTERVAL_S}s and {MAX_SYNC_INTERVAL_S}s",
        )
    return SyncPolicy(message.auto_sync, int(timedelta(seconds=seconds).total_seconds()))


def from_wire(
    plugin: AnyIntegration,
    message: pb.IntegrationSettings,
    path: str = "settings",
    current: AnySettings | None = None,
    options: Mapping[str, Any] | None = None,
    options_path: str | None = None,
) -> AnySettings:
    """Checked domain settings from a whole wire message (``options`` overrides the message's own)."""
    if options is None:
        stored = plugin.dump_options(current.options) if current is not None else None
        options, options_path = options_of(message, path, stored)
    return IntegrationSettings(
        credentials_of(plugin, message, path, current.credentials if current else None),
        plugin.parse_options(options, options_path or f"{path}.options"),
        sync_of(message.sync_settings, path),
    )
