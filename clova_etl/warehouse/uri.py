"""Warehouse URIs and SQL identifiers: parsing, redaction, quoting.

``duckdb:///path.duckdb`` (the path after the three slashes as written, SQLAlchemy's convention:
``duckdb:///data/wh.duckdb`` is relative to the working directory, ``duckdb:////srv/wh.duckdb``
absolute; ``duckdb:data/wh.duckdb`` works too), ``duckdb:///:memory:``;
``postgresql://user[:password]@host[:port]/database[?options]`` (``postgres://`` too).
Passwords never leave this module unredacted except towards the database driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    unquote,
    urlencode,
    urlsplit,
    urlunsplit,
)

from clova_etl.warehouse.errors import InvalidIdentifier, InvalidWarehouseURI
from clova_etl.warehouse.iceberg_uri import SCHEMES as ICEBERG_SCHEMES
from clova_etl.warehouse.iceberg_uri import parse_iceberg_uri

Dialect = Literal["duckdb", "postgres"]
"""The SQL the warehouse runs (Iceberg's checks and views run in DuckDB over its scans)."""
Kind = Literal["duckdb", "postgres", "iceberg"]
"""What a warehouse URI names."""

DEFAULT_SCHEMA = "ocr"

# PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); refusing longer ones avoids
# two configured names silently meaning the same schema.
_MAX_IDENTIFIER_BYTES = 63
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class WarehouseURI:
    """A parsed warehouse URI; ``str()`` and ``repr()`` never show the password."""

    dialect: Kind
    target: str = field(repr=False)
    """What the driver gets: a DuckDB file path (or ``:memory:``), a libpq URI, or the Iceberg
    URI as written (see :mod:`.iceberg_uri`)."""
    redacted: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """The password as written in the URI and decoded; never shown."""

    def __str__(self) -> str:
        return self.redacted

    def redact(self, text: str) -> str:
        """``text`` with the full URI and the password replaced by their redacted forms."""
        if self.secrets:
            text = text.replace(self.target, self.redacted)
            for secret in sorted(self.secrets, key=len, reverse=True):
                text = text.replace(secret, "***")
        return text


def parse_warehouse_uri(uri: str) -> WarehouseURI:
    """Parse ``uri``; raise :class:`InvalidWarehouseURI` when clova-etl cannot use it."""
    scheme, sep, rest = uri.partition(":")
    scheme = scheme.lower()
    if not sep:
        raise InvalidWarehouseURI(
            f"{_redact_text(uri)!r} is not a warehouse URI: write duckdb:///path.duckdb "
            "or postgresql://user@host:5432/database"
        )
    if scheme == "duckdb":
        return _parse_duckdb(uri, rest)
    if scheme in {"postgresql", "postgres"}:
        return _parse_postgres(uri)
    if scheme in ICEBERG_SCHEMES:
        redacted, secrets = parse_iceberg_uri(uri)
        return WarehouseURI(dialect="iceberg", target=uri, redacted=redacted, secrets=secrets)
    raise InvalidWarehouseURI(
        f"unsupported warehouse scheme {scheme!r} in {_redact_text(uri)!r}: "
        "use duckdb:///path.duckdb, postgresql://user@host:port/database or "
        "iceberg:///catalog.db?warehouse=file:///folder"
    )


def _parse_duckdb(uri: str, rest: str) -> WarehouseURI:
    # SQLAlchemy's convention: what follows "duckdb:///" is the path as written, so
    # duckdb:///data/wh.duckdb is relative and duckdb:////abs/wh.duckdb absolute.
    if rest.startswith("///"):
        target = rest[3:]
    elif rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        if authority != ":memory:" or path:
            raise InvalidWarehouseURI(
                f"{uri!r}: a DuckDB URI names a local file, not a host; write "
                "duckdb:///relative/path.duckdb or duckdb:////absolute/path.duckdb"
            )
        target = ":memory:"
    else:
        target = rest
    target = unquote(target)
    if not target:
        raise InvalidWarehouseURI(
            f"{uri!r} names no file: write duckdb:///path.duckdb (or duckdb:///:memory:)"
        )
    if target == ":memory:":
        return WarehouseURI(dialect="duckdb", target=":memory:", redacted=uri)
    if target.endswith("/"):
        raise InvalidWarehouseURI(f"{uri!r} names a folder; name the .duckdb file in it")
    return WarehouseURI(dialect="duckdb", target=str(Path(target)), redacted=uri)


def _parse_postgres(uri: str) -> WarehouseURI:
    try:
        parts = urlsplit(uri)
        _ = parts.port  # validates the port
    except ValueError as exc:
        raise InvalidWarehouseURI(f"{_redact_text(uri)!r}: {exc}") from None
    if not parts.path.strip("/"):
        raise InvalidWarehouseURI(
            f"{_redact_text(uri)!r} names no database: write postgresql://user@host:5432/database"
        )
    secrets: list[str] = []
    if parts.password:
        secrets += [parts.password, unquote(parts.password)]
        parts = _without_password(parts)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "password" for k, _ in query):
        secrets += [v for k, v in query if k == "password" and v]
        secrets += [quote(v, safe="") for k, v in query if k == "password" and v]
        masked = [(k, "***" if k == "password" else v) for k, v in query]
        parts = parts._replace(query=urlencode(masked, safe="*"))
    # libpq understands both schemes; ADBC wants postgresql://.
    target = "postgresql:" + uri.partition(":")[2]
    redacted = urlunsplit(parts) if secrets else uri
    return WarehouseURI(
        dialect="postgres",
        target=target,
        redacted=redacted,
        secrets=tuple(dict.fromkeys(s for s in secrets if s)),
    )


def _without_password(parts: SplitResult) -> SplitResult:
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc)


def _redact_text(uri: str) -> str:
    """A URI for an error message: anything between ``user:`` and ``@`` becomes ``***``."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", uri)


def validate_identifier(name: str, what: str = "schema") -> str:
    """``name`` if it can be a quoted SQL identifier; else :class:`InvalidIdentifier`."""
    if not isinstance(name, str) or not name:
        raise InvalidIdentifier(f"the {what} name is empty; give a name such as {DEFAULT_SCHEMA!r}")
    if _CONTROL.search(name):
        raise InvalidIdentifier(
            f"the {what} name {name!r} contains control characters; use letters, digits and _"
        )
    if len(name.encode()) > _MAX_IDENTIFIER_BYTES:
        raise InvalidIdentifier(
            f"the {what} name {name!r} is longer than {_MAX_IDENTIFIER_BYTES} bytes, "
            "PostgreSQL's limit; choose a shorter name"
        )
    if name.strip() != name:
        raise InvalidIdentifier(
            f"the {what} name {name!r} has leading or trailing spaces; remove them"
        )
    return name


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (both dialects), after validation."""
    validate_identifier(name, "identifier")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a standard SQL string literal (both dialects)."""
    if "\x00" in value:
        raise ValueError("a NUL character cannot be part of an SQL string")
    return "'" + value.replace("'", "''") + "'"


__all__ = [
    "DEFAULT_SCHEMA",
    "Dialect",
    "Kind",
    "WarehouseURI",
    "parse_warehouse_uri",
    "quote_ident",
    "quote_literal",
    "validate_identifier",
]
