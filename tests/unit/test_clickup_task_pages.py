"""Where the ClickUp import's next task page starts: just before the newest creation time read, when
ClickUp lists oldest first; by page number otherwise."""

from __future__ import annotations

import pytest

from server.integrations.clickup.importer import _next_page


@pytest.mark.parametrize(
    ("page", "after", "dates", "expected"),
    [
        (0, None, ["100", "200", "300"], (0, 299)),  # oldest first: the next page starts just before 300
        (0, 299, ["300", "400"], (0, 399)),
        (2, 299, ["299", "299"], (3, 299)),  # a page within one millisecond: by page number
        (0, None, ["300", "200", "100"], (1, None)),  # newest first: no cursor, page numbers as before
        (4, None, ["300", "100"], (5, None)),
        (0, None, [], (1, None)),
    ],
)
def test_the_next_task_page_follows_a_created_cursor_only_when_pages_come_oldest_first(
    page: int, after: int | None, dates: list[str], expected: tuple[int, int | None]
) -> None:
    assert _next_page(page, after, [{"id": str(n), "date_created": d} for n, d in enumerate(dates)]) == expected
