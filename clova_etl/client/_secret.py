"""The X-OCR-SECRET value, wrapped so that it cannot leak through repr, str, logs or pickles."""

from __future__ import annotations

from typing import NoReturn

_MASK = "**********"


class Secret:
    """A secret string: shown as ``**********``; read only through :meth:`get_secret_value`."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        raw = value.get_secret_value() if isinstance(value, Secret) else value
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("the secret must be a non-empty string")
        self._value = raw

    def get_secret_value(self) -> str:
        """The real value, for the one place that needs it (the request header)."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the secret masked (for server-echoed messages)."""
        return text.replace(self._value, _MASK) if self._value in text else text

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        # A pickled secret ends up in caches, queues and crash dumps: refuse loudly.
        raise TypeError("Secret values cannot be pickled")
