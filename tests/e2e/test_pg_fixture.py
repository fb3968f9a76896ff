from collections.abc import Callable

import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_pg_dsn_connects_to_postgresql(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("select version()").fetchone()

    assert row is not None
    assert "PostgreSQL" in row[0]


def test_pg_dsn_databases_are_isolated(pg_dsn: str, pg_database_factory: Callable[[], str]) -> None:
    other = pg_database_factory()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("create table marker (id int)")

    with psycopg.connect(other) as conn:
        row = conn.execute("select to_regclass('marker')").fetchone()

    assert other != pg_dsn
    assert row == (None,)
