"""How Ledger's database connections are set up, as the server sees them."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_it_turns_postgresql_jit_off_for_its_connections():
    # JIT compiled for ~200 ms inside a 120 ms page at 5M releases, misled by the cost estimates of index
    # probes; pages never run the long analytic scans it pays off for.
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
