"""portal.testing.queries: a page whose query count grows with its rows fails, naming both counts."""

import pytest
from django.db import connection

from portal.testing.queries import assert_queries_do_not_grow


class _Response:
    status_code = 200


class _OneQueryPerRow:
    """A stand-in for the test client: a GET of /rows/ makes one query per row, any other one."""

    def __init__(self, rows: int):
        self.rows = rows

    def get(self, url):
        with connection.cursor() as cursor:
            for _ in range(self.rows if url == "/rows/" else 1):
                cursor.execute("SELECT 1")
        return _Response()


@pytest.mark.django_db
def test_a_count_that_grows_with_the_rows_fails_naming_both_counts():
    client = _OneQueryPerRow(rows=2)

    def grow():
        client.rows = 5

    with pytest.raises(pytest.fail.Exception, match=r"/rows/: 2 queries, then 5 with more rows") as failure:
        assert_queries_do_not_grow(client, ["/fixed/", "/rows/"], grow)
    assert "/fixed/" not in str(failure.value)


@pytest.mark.django_db
def test_a_count_that_stays_passes_and_is_returned():
    client = _OneQueryPerRow(rows=3)
    assert assert_queries_do_not_grow(client, "/rows/", lambda: None) == {"/rows/": 3}
