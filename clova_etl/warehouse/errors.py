"""Errors of the warehouse layer.

Every error says whether retrying can help (``transient``) and how to fix the problem::

    WarehouseError                       base; .transient is False unless said otherwise
    ├── WarehouseConfigError             the URI or a configured name is wrong
    │   ├── InvalidWarehouseURI
    │   └── InvalidIdentifier
    ├── ParquetInputError                the Parquet batch is missing, unreadable or off-schema
    ├── SchemaMismatchError              a warehouse column has another type than declared
    ├── DataRejectedError                the database refused rows (NOT NULL, type, range)
    ├── ChecksFailedError                a blocking validation check failed: load rolled back
    └── WarehouseUnavailableError        transient: cannot connect, connection lost, file locked,
        │                                serialization failure or deadlock; retry later
        └── WarehouseBusyError           another process held the DuckDB file for longer than
                                         the load was allowed to wait
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clova_etl.warehouse.checks import CheckResult


class WarehouseError(Exception):
    """Base of every warehouse error."""

    transient: bool = False


class WarehouseConfigError(WarehouseError, ValueError):
    """The warehouse configuration is invalid."""


class InvalidWarehouseURI(WarehouseConfigError):
    """A warehouse URI that clova-etl cannot use."""


class InvalidIdentifier(WarehouseConfigError):
    """A configured schema or table name that cannot be used as an SQL identifier."""


class ParquetInputError(WarehouseError):
    """The Parquet batch to load is missing, unreadable or does not match the schema."""


class SchemaMismatchError(WarehouseError):
    """A warehouse column's type differs from the schema declaration."""


class DataRejectedError(WarehouseError):
    """The database refused the batch's rows; the load was rolled back."""


class ChecksFailedError(WarehouseError):
    """A blocking validation check failed; the load was rolled back."""

    def __init__(self, message: str, results: Sequence[CheckResult], load_id: str | None) -> None:
        super().__init__(message)
        self.results = list(results)
        self.load_id = load_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled across processes (Airflow, multiprocessing): keep the results.
        return (type(self), (str(self), self.results, self.load_id))

    @property
    def failed(self) -> list[CheckResult]:
        """The blocking checks that failed."""
        return [r for r in self.results if r.status == "fail"]


class WarehouseUnavailableError(WarehouseError):
    """The warehouse could not be reached or the connection broke; retrying may succeed."""

    transient = True


class WarehouseBusyError(WarehouseUnavailableError):
    """Another process held the warehouse file past ``warehouse.lock_wait_seconds``."""


__all__ = [
    "ChecksFailedError",
    "DataRejectedError",
    "InvalidIdentifier",
    "InvalidWarehouseURI",
    "ParquetInputError",
    "SchemaMismatchError",
    "WarehouseBusyError",
    "WarehouseConfigError",
    "WarehouseError",
    "WarehouseUnavailableError",
]
