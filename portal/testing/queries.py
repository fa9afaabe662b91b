"""Query counts that must not grow with the data (DESIGN.md §6: pages stay fast at 5,000 use
cases because the number of queries a page makes does not depend on how many rows it shows).

A cap (`django_assert_max_num_queries`) catches a page that gets slower in general; it does not
catch a query per row while the test's data is small. `assert_queries_do_not_grow` does: it
counts a page's queries, adds rows, counts again, and fails when the second count is higher.
"""

from collections.abc import Callable, Iterable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


def count_queries(client, url: str, *, status: int = 200) -> int:
    """The number of queries one GET of `url` makes (the client is signed in already)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == status, f"GET {url}: {response.status_code}, expected {status}"
    return len(captured)


def assert_queries_do_not_grow(
    client, urls: str | Iterable[str], grow: Callable[[], object], *, status: int = 200
) -> dict[str, int]:
    """GET each url, call `grow()` (which adds rows the pages show), GET each again: fail,
    naming both counts, for any page whose second count is higher. Returns the counts after.

    Each page is requested once before counting, so that what a first request pays once
    (content types, the session, per-process caches) cannot hide a query per row.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    before = {}
    for url in urls:
        count_queries(client, url, status=status)
        before[url] = count_queries(client, url, status=status)
    grow()
    after = {url: count_queries(client, url, status=status) for url in urls}
    grown = [f"{url}: {before[url]} queries, then {after[url]} with more rows" for url in urls
             if after[url] > before[url]]  # fmt: skip
    if grown:
        pytest.fail("Query counts grow with the data (a query per row?):\n" + "\n".join(grown), pytrace=False)
    return after
