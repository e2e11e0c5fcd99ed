"""The site's other custom fields (besides sprint, rank and story points): defined, filled, rendered.

One field of each common kind (§4.1, §4.3): a number, a single and a multiple select, a textarea
(ADF in v3, wiki markup in webhook bodies), a text field, a date, a datetime, labels, a user picker
and a cascading select, whose value no importer has a natural type for. Their ids differ per seed,
like the others', and so do the values issues get. Values are kept in the model in plain form (an
option's id, an account id, epoch ms) and rendered in Jira's shapes here, per viewer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sandbox.jira import render
from sandbox.jira.adf import paragraph_doc
from sandbox.jira.model import Field, Issue, Site
from sandbox.jira.times import jira_time

PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"
DAY_MS = 86_400_000
EPOCH_MS = 1_767_600_000_000  # 2026-01-05

# name, type key (after PREFIX), schema type, schema items
DEFINITIONS: list[tuple[str, str, str, str | None]] = [
    ("Cost estimate", "float", "number", None),
    ("Severity", "select", "option", None),
    ("Acceptance criteria", "textarea", "string", None),
    ("Customer ref", "textfield", "string", None),
    ("Target date", "datepicker", "date", None),
    ("Review at", "datetime", "datetime", None),
    ("Areas", "labels", "array", "string"),
    ("Platforms", "multiselect", "array", "option"),
    ("Reviewer", "userpicker", "user", None),
    ("Hosting", "cascadingselect", "option-with-child", None),
]
_OPTIONS: dict[str, list[str]] = {
    "select": ["Critical", "Major", "Minor", "Trivial"],
    "multiselect": ["Web", "iOS", "Android", "Desktop"],
    "cascadingselect": ["Cloud", "Cloud/EU", "Cloud/US", "On-prem", "On-prem/DC"],
}
_AREAS = ["north", "south", "east", "west"]
_NOUNS = ["login", "import", "billing", "search"]


def kind_of(field: Field) -> str:
    """A generated field's type key (``select``, ``textarea``…); "" for the others."""
    custom = str(field.schema.get("custom", ""))
    return custom.removeprefix(PREFIX) if custom.startswith(PREFIX) else ""


def others(site: Site) -> list[Field]:
    """The generated fields (not sprint, rank or story points), in id order."""
    return [f for f in site.fields.values() if f.custom and kind_of(f)]


def define(site: Site, rng: random.Random) -> None:
    """The fields, with ids past the sprint, rank and story points ones and options of their own."""
    base = 10100 + rng.randint(0, 60)
    option_id = 10500 + rng.randint(0, 400)
    for offset, (name, kind, schema_type, items) in enumerate(DEFINITIONS):
        number = base + offset
        schema: dict[str, Any] = {"type": schema_type, "custom": PREFIX + kind, "customId": number}
        if items is not None:
            schema["items"] = items
        options: dict[str, str] = {}
        for value in _OPTIONS.get(kind, []):
            options[str(option_id)] = value
            option_id += 1
        field_id = f"customfield_{number}"
        site.fields[field_id] = Field(field_id, name, True, schema, True, [f"cf[{number}]", name], options)


def _acceptance(rng: random.Random) -> dict[str, Any]:
    """A textarea document: a paragraph and a bullet list (V7: ``Done when:\\n- …\\n- …``)."""
    items = rng.sample(_NOUNS, 2)
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Done when:"}]},
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": f"{noun} works"}]}],
                    }
                    for noun in items
                ],
            },
        ],
    }


def random_value(field: Field, rng: random.Random, people: list[str]) -> Any:
    """A value of the field's kind, in the model's plain form."""
    kind, options = kind_of(field), list(field.options)
    makers: dict[str, Callable[[], Any]] = {
        "float": lambda: round(rng.uniform(0.5, 40.0), 1),
        "select": lambda: rng.choice(options),
        "textarea": lambda: _acceptance(rng),
        "textfield": lambda: f"CUST-{rng.randint(100, 999)}",
        "datepicker": lambda: f"2026-03-{rng.randint(10, 28)}",
        "datetime": lambda: EPOCH_MS + rng.randint(0, 30 * DAY_MS),
        "labels": lambda: sorted(rng.sample(_AREAS, rng.randint(1, 2))),
        "multiselect": lambda: sorted(rng.sample(options, rng.randint(1, 2))),
        "userpicker": lambda: rng.choice(people),
        "cascadingselect": lambda: rng.choice([[o, c] for o in options for c in options if _child_of(field, c, o)]),
    }
    return makers[kind]()


def _child_of(field: Field, child: str, parent: str) -> bool:
    return field.options[child].startswith(field.options[parent] + "/")


def fill(site: Site, rng: random.Random, people: list[str]) -> None:
    """Values for the generated issues: each field set on about 60 % of them."""
    fields = others(site)
    for issue in site.issues.values():
        for field in fields:
            if rng.random() < 0.6:
                issue.custom_values[field.id] = random_value(field, rng, people)


def validated(site: Site, raw: Any) -> dict[str, Any]:
    """An admin edit ``{"customFields": {id: value or null}}``, values in the model's form; ValueError
    names what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("customFields must be an object of field id -> value (or null)")
    known = {f.id: f for f in others(site)}
    out: dict[str, Any] = {}
    for field_id, value in raw.items():
        field = known.get(field_id)
        if field is None:
            raise ValueError(f"no custom field {field_id!r}; known: {', '.join(known)}")
        if kind_of(field) == "textarea" and isinstance(value, str):
            value = paragraph_doc(value)  # the admin API speaks text, as for ``description``
        if value is not None and not _fits(site, field, value):
            raise ValueError(f"{value!r} is not a value of {field.name!r} ({kind_of(field)})")
        out[field_id] = value
    return out


def _fits(site: Site, field: Field, value: Any) -> bool:
    kind = kind_of(field)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("textfield", "datepicker"):
        return isinstance(value, str) and bool(value)
    if kind == "textarea":
        return isinstance(value, dict) and value.get("type") == "doc"
    if kind == "datetime":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "select":
        return value in field.options
    if kind == "labels":
        return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v and " " not in v for v in value)
    if kind == "multiselect":
        return isinstance(value, list) and bool(value) and all(v in field.options for v in value)
    if kind == "userpicker":
        return value in site.users
    return isinstance(value, list) and len(value) == 2 and _child_of(field, value[1], value[0])


def _option(site: Site, field: Field, option_id: str) -> dict[str, Any]:
    return {
        "self": f"{site.url}/rest/api/3/customFieldOption/{option_id}",
        "value": field.options[option_id].rsplit("/", 1)[-1],
        "id": option_id,
    }


def rendered(site: Site, field: Field, value: Any, viewer: str | None) -> Any:
    """The v3 shape of a value; ``null`` when unset (requested fields come back null, §4.3)."""
    if value is None:
        return None
    kind = kind_of(field)
    if kind == "datetime":
        return jira_time(value)
    if kind == "select":
        return _option(site, field, value)
    if kind == "multiselect":
        return [_option(site, field, v) for v in value]
    if kind == "userpicker":
        return render.user(site, value, viewer)
    if kind == "cascadingselect":
        return _option(site, field, value[0]) | {"child": _option(site, field, value[1])}
    return list(value) if isinstance(value, list) else value


def shown(site: Site, field: Field, value: Any) -> tuple[Any, Any]:
    """A changelog item's ``from``/``fromString`` (or ``to``/``toString``) for a value (§4.5)."""
    if value is None:
        return None, None
    kind = kind_of(field)
    if kind in ("select", "multiselect", "cascadingselect"):
        ids = value if isinstance(value, list) else [value]
        names = [field.options[i].rsplit("/", 1)[-1] for i in ids]
        return ", ".join(ids), (" - " if kind == "cascadingselect" else ", ").join(names)
    if kind == "userpicker":
        return value, site.users[value].display_name
    if kind == "datetime":
        return str(value), jira_time(value)
    if kind == "labels":
        return None, " ".join(value)
    if kind == "textarea":
        return None, "(rich text)"
    return None, str(value)


def is_textarea(field: Field) -> bool:
    return kind_of(field) == "textarea"


def values_of(site: Site, issue: Issue, viewer: str | None) -> dict[str, Callable[[], Any]]:
    """Field id -> its rendered value, for the issue document's field selection."""

    def value(field: Field) -> Callable[[], Any]:
        return lambda: rendered(site, field, issue.custom_values.get(field.id), viewer)

    return {f.id: value(f) for f in others(site)}
