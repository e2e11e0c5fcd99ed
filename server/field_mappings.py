"""A project's custom-field mapping: the third party's fields listed with the property each becomes,
and changes to it, which re-map the nodes already imported in the background.

The mapping is validated whole before anything is stored: a property name must be a plain
identifier, not one of the kind's own properties, and no two kept fields may land on one property.
A change is refused while an import or a re-map runs (the import read the old mapping when it
started); once stored, every writer that starts reads the new one, and a FIELD_REMAP job maps what
is already in the graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from graph.import_jobs import FIELD_REMAP, ImportJobRecord
from graph.integration_store import IntegrationKey
from server.errors import FailedPrecondition, InvalidArgument
from server.gallery import Gallery, IntegrationView
from server.imports import ImportRunner
from server.integrations.field_map import PROPERTY, CustomFieldInfo, FieldMap, FieldRule, FieldType, to_rows

logger = logging.getLogger(__name__)

MAX_MAPPINGS = 500
MAX_FIELD_ID = 200
_RECENT_JOBS = 50  # where the newest re-map is looked for


@dataclass(frozen=True)
class MappedField:
    info: CustomFieldInfo
    rule: FieldRule  # as it applies: the property and type filled in


@dataclass(frozen=True)
class FieldListing:
    fields: list[MappedField]
    stale: dict[str, FieldRule]  # stored rules of fields the third party no longer lists
    remap_job: ImportJobRecord | None


@dataclass(frozen=True)
class MappingUpdate:
    listing: FieldListing
    remap_job: ImportJobRecord | None  # None: nothing changed


class FieldMappings:
    def __init__(self, gallery: Gallery, imports: ImportRunner) -> None:
        self._gallery = gallery
        self._imports = imports

    async def listing(self, org_id: str, project_id: str, name: str) -> FieldListing:
        view = await self._gallery.get(org_id, project_id, name)
        return await self._listing(view, await self._discover(view))

    async def update(
        self, org_id: str, project_id: str, name: str, requested: list[tuple[str, FieldRule]]
    ) -> MappingUpdate:
        view = await self._gallery.get(org_id, project_id, name)
        fields = await self._discover(view)
        mapping = self._validated(view, fields, requested)
        assert view.settings is not None  # _discover refused unconfigured ones
        if mapping == view.settings.fields:
            return MappingUpdate(await self._listing(view, fields), None)
        running = await self._imports.active(org_id, project_id, view.key.name)
        if running is not None:
            what = "a re-map of the custom fields" if running.kind == FIELD_REMAP else "an import"
            raise FailedPrecondition(
                f"{what} ({running.id}) is running; change the mapping when it has ended", reason="JOB_RUNNING"
            )
        saved = await self._gallery.save_field_mappings(
            IntegrationKey(org_id, project_id, view.key.name), to_rows(mapping)
        )
        logger.info("custom-field mapping of %s/%s/%s: %d rules", org_id, project_id, view.key.name, len(mapping.rules))
        job = await self._imports.start_remap(org_id, project_id, view.key.name)
        return MappingUpdate(await self._listing(saved, fields), job)

    # ------------------------------------------------------------ helpers

    async def _discover(self, view: IntegrationView) -> list[CustomFieldInfo]:
        plugin = view.plugin
        if not plugin.supports_field_mapping:
            raise FailedPrecondition(f"{plugin.display_name} has no custom fields to map", reason="NOT_SUPPORTED")
        if view.settings is None:
            raise FailedPrecondition(f"configure {plugin.display_name} first", reason="NOT_CONFIGURED")
        return await plugin.custom_fields(view.settings)

    async def _listing(self, view: IntegrationView, fields: list[CustomFieldInfo]) -> FieldListing:
        mapping = view.settings.fields if view.settings is not None else FieldMap()
        listed = {info.id for info in fields}
        mapped = [MappedField(info, _applied(info, mapping.rule(info.id))) for info in fields]
        stale = {field_id: rule for field_id, rule in mapping.rules.items() if field_id not in listed}
        key = view.key
        recent = await self._imports.jobs_of(key.org_id, key.project_id, key.name, 0, _RECENT_JOBS)
        remap = next((job for job in recent if job.kind == FIELD_REMAP), None)
        return FieldListing(mapped, stale, remap)

    @staticmethod
    def _validated(
        view: IntegrationView, fields: list[CustomFieldInfo], requested: list[tuple[str, FieldRule]]
    ) -> FieldMap:
        """The requested mapping with defaults left out; InvalidArgument naming the first bad entry."""
        if len(requested) > MAX_MAPPINGS:
            raise InvalidArgument("mappings", f"at most {MAX_MAPPINGS} entries")
        assert view.settings is not None
        known = {info.id: info for info in fields}
        stored = set(view.settings.fields.rules)
        reserved = view.plugin.reserved_properties
        rules: dict[str, FieldRule] = {}
        where: dict[str, int] = {}
        for index, (field_id, rule) in enumerate(requested):
            path = f"mappings[{index}]"
            if not field_id or len(field_id) > MAX_FIELD_ID or not field_id.isprintable():
                raise InvalidArgument(
                    f"{path}.field_id", f"must be a field id (1 to {MAX_FIELD_ID} printable characters)"
                )
            if field_id in rules:
                raise InvalidArgument(f"{path}.field_id", f"{field_id!r} is listed twice")
            if field_id not in known and field_id not in stored:
                raise InvalidArgument(
                    f"{path}.field_id",
                    f"{field_id!r} is not a custom field {view.plugin.display_name} lists (see ListCustomFields)",
                    reason="UNKNOWN_FIELD",
                )
            if rule.property:
                if not PROPERTY.fullmatch(rule.property):
                    raise InvalidArgument(
                        f"{path}.property",
                        "must start with a letter and hold only letters, digits and '_' (at most 64)",
                    )
                if rule.property in reserved:
                    raise InvalidArgument(
                        f"{path}.property", f"{rule.property!r} is a property of the node itself; choose another"
                    )
            info = known.get(field_id)
            if info is not None:  # the defaults, said explicitly (as ListCustomFields shows them)
                rule = FieldRule(
                    "" if rule.property == info.default_property else rule.property,
                    FieldType.NATURAL if rule.type is info.natural_type else rule.type,
                    rule.skip,
                )
            rules[field_id] = rule
            where[field_id] = index
        mapping = FieldMap({field_id: rule for field_id, rule in rules.items() if not rule.is_default()})
        applied = {info.id: _applied(info, mapping.rule(info.id)) for info in fields}
        for info in fields:
            rule = mapping.rule(info.id)
            if not rule.property or rule.skip:
                continue
            for other in fields:  # fields of one name (one per space) may share a property
                taken = applied[other.id]
                if other.name != info.name and not taken.skip and taken.property == rule.property:
                    raise InvalidArgument(
                        f"mappings[{where[info.id]}].property",
                        f"{rule.property!r} is the property of {other.name!r} already; choose another",
                    )
        return mapping


def _applied(info: CustomFieldInfo, rule: FieldRule) -> FieldRule:
    """The rule with the default property and the natural type filled in."""
    return FieldRule(
        rule.property or info.default_property,
        info.natural_type if rule.type is FieldType.NATURAL else rule.type,
        rule.skip,
    )
