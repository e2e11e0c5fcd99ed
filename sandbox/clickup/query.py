"""Task list queries: ClickUp's default filters, sort orders and fixed 100-task pages.

Defaults hide closed tasks, subtasks and archived tasks. ``date_*_gt``/``_lt`` are strict
(> and <); callers should overlap their watermark, as ClickUp's own inclusivity is disputed.
Without ``order_by`` tasks come in list position (``orderindex`` ascending, as TV3 shows); with
``order_by`` they come newest first and ``reverse=true`` gives oldest first (what tap-clickup's
``order_by=updated&reverse=true`` incremental stream relies on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.datastructures import QueryParams

from sandbox.clickup.model import Task, World
from sandbox.clickup.state import ApiError

PAGE_SIZE = 100


def flag(params: QueryParams, name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ApiError(400, f"{name} must be true or false", "INPUT_002")


def many(params: QueryParams, name: str) -> list[str]:
    return params.getlist(f"{name}[]") + params.getlist(name)


def page_number(params: QueryParams) -> int:
    raw = params.get("page", "0")
    if not raw.isdigit():
        raise ApiError(400, "page must be a non-negative integer", "INPUT_001")
    return int(raw)


def ms_filter(params: QueryParams, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a Unix time in milliseconds", "INPUT_003") from None


_SORTS: dict[str, Callable[[Task], tuple[int, str]]] = {
    "created": lambda t: (t.date_created, t.id),
    "updated": lambda t: (t.date_updated, t.id),
    "id": lambda t: (0, t.id),
    "due_date": lambda t: (t.due_date or 0, t.id),
}


def select(world: World, tasks: Iterable[Task], params: QueryParams, *, archived_mode: str) -> list[Task]:
    archived = flag(params, "archived")
    include_closed = flag(params, "include_closed")
    subtasks = flag(params, "subtasks") or params.get("parent") is not None
    statuses = {s.lower() for s in many(params, "statuses")}
    assignees = set(many(params, "assignees"))
    tags = set(many(params, "tags"))
    ranges = {
        name: (ms_filter(params, f"{name}_gt"), ms_filter(params, f"{name}_lt"))
        for name in ("date_updated", "date_created", "due_date", "date_done")
    }
    order_by = params.get("order_by")
    if order_by is not None and order_by not in _SORTS:
        raise ApiError(400, "order_by must be one of id, created, updated, due_date", "INPUT_004")

    def keep(task: Task) -> bool:
        if archived_mode == "only" and task.archived != archived:
            return False
        if archived_mode == "include" and task.archived and not archived:
            return False
        if not include_closed and world.status_of(task).type == "closed":
            return False
        if not subtasks and task.parent is not None:
            return False
        if statuses and task.status.lower() not in statuses:
            return False
        if assignees and not assignees & {str(a) for a in task.assignees}:
            return False
        if tags and not tags & set(task.tags):
            return False
        values = {
            "date_updated": task.date_updated,
            "date_created": task.date_created,
            "due_date": task.due_date,
            "date_done": task.date_done,
        }
        for name, (low, high) in ranges.items():
            value = values[name]
            if low is not None and (value is None or value <= low):
                return False
            if high is not None and (value is None or value >= high):
                return False
        return True

    chosen = [t for t in tasks if keep(t)]
    if order_by is None:
        chosen.sort(key=lambda t: (_position(t.orderindex), t.id), reverse=flag(params, "reverse"))
    else:
        chosen.sort(key=_SORTS[order_by], reverse=not flag(params, "reverse"))
    return chosen


def _position(orderindex: str) -> float:
    try:
        return float(orderindex)
    except ValueError:
        return 0.0


def page(tasks: list[Task], number: int) -> tuple[list[Task], bool]:
    start = number * PAGE_SIZE
    chunk = tasks[start : start + PAGE_SIZE]
    return chunk, start + PAGE_SIZE >= len(tasks)
