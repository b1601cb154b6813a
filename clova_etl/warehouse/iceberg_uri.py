"""Iceberg warehouse URIs: which catalog, where data files go, and the catalog's properties.

==========================================================  =====================================
``iceberg:///PATH/catalog.db?warehouse=URI``                SQL catalog in a SQLite file (a local
                                                            try; path as for DuckDB: three slashes
                                                            relative, four absolute)
``iceberg+postgresql://USER[:PW]@HOST:PORT/DB?warehouse=``  SQL catalog on PostgreSQL (psycopg 3;
                                                            libpq's sslmode, options… pass on)
``iceberg+rest://HOST[:PORT]/PATH?warehouse=``              REST catalog over https
                                                            (``iceberg+rest+http://`` for http)
``iceberg+glue://?warehouse=`` / ``iceberg+hive://H:P?…``   AWS Glue / Hive metastore (pyiceberg's
                                                            ``glue`` / ``hive`` extras)
==========================================================  =====================================

``warehouse=`` is where data files go: ``file:///folder`` or ``s3://bucket/prefix``. Every other
query parameter with a dot in its name is a pyiceberg catalog property passed as written
(``s3.endpoint``, ``s3.region``, ``s3.access-key-id``, ``s3.secret-access-key``, ``token``…);
without S3 properties pyarrow uses the usual ``AWS_*`` environment. Secret-bearing values (a
password in the authority, ``*secret*``, ``*token*``, ``credential``, ``password``) are redacted
in ``str()``, logs and errors.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from clova_etl.warehouse.errors import InvalidWarehouseURI

SCHEMES = ("iceberg", "iceberg+postgresql", "iceberg+rest", "iceberg+rest+http", "iceberg+glue",
           "iceberg+hive")  # fmt: skip
_SECRET_WORDS = ("secret", "token", "credential", "password")
LIBPQ_OPTIONS = frozenset(
    {"sslmode", "sslrootcert", "connect_timeout", "application_name", "options", "password"}
)
"""Query parameters of ``iceberg+postgresql://`` that go to the catalog's database connection."""
_EXAMPLE = "iceberg:///data/catalog.db?warehouse=file:///data/iceberg"


def is_secret_option(name: str) -> bool:
    """Whether a catalog property carries a secret (its value is never shown)."""
    return any(word in name.lower() for word in _SECRET_WORDS)


def parse_iceberg_uri(uri: str) -> tuple[str, tuple[str, ...]]:
    """Check an ``iceberg…://`` URI: its redacted form and its secrets, or InvalidWarehouseURI."""
    scheme = uri.partition(":")[0].lower()
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError as exc:
        raise InvalidWarehouseURI(f"{_masked(uri)!r}: {exc}") from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = dict(query)
    if not options.get("warehouse"):
        raise InvalidWarehouseURI(
            f"{_masked(uri)!r} does not say where data files go: add ?warehouse=file:///folder "
            f"or ?warehouse=s3://bucket/prefix (e.g. {_EXAMPLE})"
        )
    passthrough = LIBPQ_OPTIONS if scheme == "iceberg+postgresql" else frozenset({"token"})
    unknown = sorted(
        k for k in options if k != "warehouse" and "." not in k and k not in passthrough
    )
    if unknown:
        raise InvalidWarehouseURI(
            f"{_masked(uri)!r}: unknown option(s) {unknown}; pass pyiceberg catalog properties "
            "by their dotted names (s3.endpoint, s3.region, …)"
        )
    secrets = [v for k, v in query if is_secret_option(k) and v]
    secrets += [quote(v, safe="") for v in list(secrets)]
    if parts.password:
        secrets += [parts.password, unquote(parts.password)]
    if scheme == "iceberg":
        _sqlite_path(uri, parts.path, parts.netloc)
    elif scheme in {"iceberg+postgresql", "iceberg+hive", "iceberg+rest", "iceberg+rest+http"}:
        if not parts.hostname:
            raise InvalidWarehouseURI(f"{_masked(uri)!r} names no host")
        if scheme == "iceberg+postgresql" and not parts.path.strip("/"):
            raise InvalidWarehouseURI(
                f"{_masked(uri)!r} names no database: write "
                "iceberg+postgresql://user@host:5432/database?warehouse=…"
            )
    redacted = _masked(uri)
    return redacted, tuple(dict.fromkeys(s for s in secrets if s))


def _sqlite_path(uri: str, path: str, netloc: str) -> str:
    if netloc:
        raise InvalidWarehouseURI(
            f"{_masked(uri)!r}: iceberg:// names a local SQLite catalog file, not a host; write "
            "iceberg:///relative/catalog.db or iceberg:////absolute/catalog.db"
        )
    # urlsplit keeps one leading slash of "///rel" → "/rel"; "////abs" → "//abs".
    target = unquote(path[1:] if path.startswith("/") else path)
    if not target or target.endswith("/"):
        raise InvalidWarehouseURI(f"{_masked(uri)!r} names no catalog file (e.g. {_EXAMPLE})")
    return target


def catalog_properties(target: str) -> dict[str, str]:
    """pyiceberg ``load_catalog`` properties for a URI (secrets included: for the driver only)."""
    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    libpq = {k: v for k, v in options.items() if k in LIBPQ_OPTIONS}
    props = {k: v for k, v in options.items() if k != "warehouse" and k not in libpq}
    warehouse = options["warehouse"]
    if warehouse.startswith("/"):
        warehouse = Path(warehouse).as_uri()
    props["warehouse"] = warehouse
    if scheme == "iceberg":
        path = Path(_sqlite_path(target, parts.path, parts.netloc))
        path.parent.mkdir(parents=True, exist_ok=True)
        props |= {"type": "sql", "uri": f"sqlite:///{path.resolve()}"}
    elif scheme == "iceberg+postgresql":
        database = parts._replace(scheme="postgresql+psycopg", query=urlencode(libpq))
        props |= {"type": "sql", "uri": urlunsplit(database)}
    elif scheme in {"iceberg+rest", "iceberg+rest+http"}:
        http = "http" if scheme.endswith("+http") else "https"
        props |= {"type": "rest", "uri": urlunsplit(parts._replace(scheme=http, query=""))}
    elif scheme == "iceberg+glue":
        props |= {"type": "glue"}
    elif scheme == "iceberg+hive":
        props |= {"type": "hive", "uri": f"thrift://{parts.netloc}"}
    if warehouse.startswith(("s3://", "s3a://")) and "py-io-impl" not in props:
        # Data files in a bucket go through s3fs, the store's own client: pyarrow's S3 writer
        # completes even small files as multipart uploads, which S3-compatible stores (and
        # moto) do not all accept.
        props["py-io-impl"] = "pyiceberg.io.fsspec.FsspecFileIO"
    if "s3.endpoint" in props and "s3.force-virtual-addressing" not in props:
        # S3-compatible stores by endpoint (NCP Object Storage, MinIO, moto) use path style.
        props["s3.force-virtual-addressing"] = "false"
    return props


def _masked(uri: str) -> str:
    """A URI for an error message: a password and secret-bearing values as ``***``."""
    parts = uri.split("?", 1)
    head = parts[0]
    if "@" in head:
        scheme_host, _, rest = head.rpartition("@")
        if ":" in scheme_host.split("//", 1)[-1]:
            user = scheme_host.split("//", 1)[-1].split(":", 1)[0]
            head = f"{scheme_host.split('//', 1)[0]}//{user}:***@{rest}"
    if len(parts) == 1:
        return head
    pairs = parse_qsl(parts[1], keep_blank_values=True)
    if not any(is_secret_option(k) and v for k, v in pairs):
        return head + "?" + parts[1]
    query = [(k, "***" if is_secret_option(k) and v else v) for k, v in pairs]
    return head + "?" + urlencode(query, safe="*:/")


__all__ = ["SCHEMES", "catalog_properties", "is_secret_option",
           "parse_iceberg_uri"]  # fmt: skip
