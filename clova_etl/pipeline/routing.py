"""Routing: which request options an object gets, decided by its key.

Rules are tried in order; the first whose pattern matches the key wins. Patterns are globs:
``*`` and ``?`` stay within one path segment, ``**`` spans any number of segments and
``{template_id}`` captures one segment of digits that becomes the Template OCR templateId.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from clova_etl.config import RouteRule


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Regex for a key glob (see the module docstring)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern.startswith("{template_id}", i):
            out.append(r"(?P<template_id>\d+)")
            i += len("{template_id}")
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches_any(key: str, patterns: Sequence[str]) -> bool:
    """Whether the key matches one of the globs."""
    return any(compile_glob(p).match(key) for p in patterns)


@dataclass(frozen=True)
class Route:
    """The options a matched rule gives an object."""

    name: str
    api: str
    version: str
    lang: str | None
    template_ids: tuple[int, ...] | None
    enable_table_detection: bool


class Router:
    """First-match routing over the configured rules."""

    def __init__(self, rules: Sequence[RouteRule]) -> None:
        self.rules = list(rules)

    def route(self, key: str) -> Route | None:
        """The route for a key, or None when no rule matches."""
        for rule in self.rules:
            m = compile_glob(rule.pattern).match(key)
            if not m:
                continue
            template_ids: list[int] = list(rule.template_ids or [])
            captured = m.groupdict().get("template_id")
            if captured is not None:
                template_ids = [int(captured), *(t for t in template_ids if t != int(captured))]
            return Route(
                name=rule.name,
                api=rule.api,
                version=rule.version,
                lang=rule.lang,
                template_ids=tuple(template_ids) or None,
                enable_table_detection=rule.enable_table_detection,
            )
        return None


__all__ = ["Route", "Router", "compile_glob", "matches_any"]
