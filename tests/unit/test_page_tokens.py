"""The one page-token helper: pages follow each other to the end, sizes are coerced as AIP-158 says,
and a token opens only for the query it was issued for."""

from __future__ import annotations

import pytest

from server.crypto import KeyRing, generate_key_spec
from server.errors import InvalidArgument
from server.page_tokens import PageTokens, page_size

ITEMS = list(range(45))
QUERY = ("ListThings", "acme", "p1", "")


async def fetch(offset: int, limit: int) -> list[int]:
    return ITEMS[offset : offset + limit]


@pytest.fixture
def pages() -> PageTokens:
    return PageTokens(KeyRing.from_spec(generate_key_spec("k1")))


async def test_pages_follow_each_other_to_the_end(pages: PageTokens) -> None:
    seen: list[int] = []
    token, sizes = "", []
    while True:
        items, token = await pages.page(token, 20, QUERY, fetch)
        seen += items
        sizes.append(len(items))
        if not token:
            break
    assert (seen, sizes) == (ITEMS, [20, 20, 5])


async def test_an_exact_last_page_has_no_next_token(pages: PageTokens) -> None:
    items, token = await pages.page("", 45, QUERY, fetch)
    assert (len(items), token) == (45, "")


@pytest.mark.parametrize(("requested", "size"), [(0, 20), (1, 1), (100, 100), (500, 100)])
def test_page_sizes_are_coerced(requested: int, size: int) -> None:
    assert page_size(requested) == size


def test_a_negative_page_size_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="must not be negative"):
        page_size(-1)


async def test_a_token_opens_only_for_its_query(pages: PageTokens) -> None:
    _, token = await pages.page("", 20, QUERY, fetch)
    with pytest.raises(InvalidArgument):
        await pages.page(token, 20, ("ListThings", "acme", "p1", "other filter"), fetch)
    with pytest.raises(InvalidArgument):
        await pages.page(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], 20, QUERY, fetch)
