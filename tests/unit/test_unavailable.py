"""Which driver errors mean "the database is away" (503) rather than a bug (500)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from genq.store.sql import is_unavailable


class DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


class AdaptedError(Exception):
    """SQLAlchemy's asyncpg adapter keeps the driver's error as ``driver_exception``."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("adapted")
        self.driver_exception = DriverError(sqlstate)


def error(statement: str | None, orig: Exception, invalidated: bool = False) -> DBAPIError:
    return DBAPIError(statement, None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "sqlstate",
    ["08006", "08001", "53300", "57P01", "57P03"],  # lost, refused, too many, killed, starting
)
def test_connection_and_operator_states_are_unavailable(sqlstate: str) -> None:
    assert is_unavailable(error("SELECT 1", AdaptedError(sqlstate)))
    assert is_unavailable(error("SELECT 1", DriverError(sqlstate)))


@pytest.mark.parametrize("sqlstate", ["23505", "42P01", "22P02", None])
def test_errors_of_the_statement_itself_are_not(sqlstate: str | None) -> None:
    assert not is_unavailable(error("SELECT 1", AdaptedError(sqlstate)))


def test_failing_to_connect_or_a_dropped_connection_is_unavailable() -> None:
    assert is_unavailable(error(None, AdaptedError("55000")))
    assert is_unavailable(error("SELECT 1", AdaptedError(None), invalidated=True))
