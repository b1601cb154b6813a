"""Slow path: bend a parsed JSON value to an Arrow type, or say precisely where it does not fit.

Only documents the C++ reader rejects come here (pretty-printed files, ``"rowIndex": 1.0``, a
numeric ``code``...). The result is re-serialised compactly and read by the same fast path, so
there is one flattening implementation, not two.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class MalformedDocument(ValueError):
    """A JSON value whose shape cannot be read as the declared type."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or '$'}: {problem}")
        self.path = path
        self.problem = problem


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _number(value: Any, path: str) -> float | int:
    if isinstance(value, bool):
        raise MalformedDocument(path, "expected a number, got a boolean")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            raise MalformedDocument(path, f"expected a number, got {value[:40]!r}") from None
        if not math.isfinite(parsed):
            raise MalformedDocument(path, f"expected a finite number, got {value[:40]!r}")
        return parsed
    raise MalformedDocument(path, f"expected a number, got {_kind(value)}")


def _integer(value: Any, path: str) -> int:
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number: float | int = int(value.strip())
    else:
        number = _number(value, path)
    if isinstance(number, float):
        if not number.is_integer():
            raise MalformedDocument(path, f"expected an integer, got {number!r}")
        number = int(number)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise MalformedDocument(path, f"integer {number} out of range")
    return number


def _boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1) and isinstance(value, int):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedDocument(path, f"expected a boolean, got {_kind(value)}")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    # A number, boolean or structure where text is expected: keep its JSON spelling.
    return orjson.dumps(value).decode()


def _timestamp(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise MalformedDocument(path, f"expected an ISO 8601 time, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedDocument(path, f"expected an ISO 8601 time, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def coerce(value: Any, type_: pa.DataType, path: str = "") -> Any:
    """``value`` reshaped to ``type_`` (unknown keys dropped); :class:`MalformedDocument` if not."""
    if value is None:
        return None
    if pa.types.is_struct(type_):
        if not isinstance(value, dict):
            raise MalformedDocument(path, f"expected an object, got {_kind(value)}")
        out: dict[str, Any] = {}
        for i in range(type_.num_fields):
            child = type_.field(i)
            if child.name in value:
                out[child.name] = coerce(value[child.name], child.type, f"{path}.{child.name}")
        return out
    if pa.types.is_list(type_):
        if not isinstance(value, list):
            raise MalformedDocument(path, f"expected an array, got {_kind(value)}")
        item = type_.value_type
        return [coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if pa.types.is_string(type_):
        return _text(value)
    if pa.types.is_integer(type_):
        return _integer(value, path)
    if pa.types.is_floating(type_):
        return float(_number(value, path))
    if pa.types.is_boolean(type_):
        return _boolean(value, path)
    if pa.types.is_timestamp(type_):
        return _timestamp(value, path)
    raise TypeError(f"no coercion for {type_}")  # pragma: no cover - schema is fixed


__all__ = ["MalformedDocument", "coerce"]
