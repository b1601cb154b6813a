"""Routing rules: globs over keys, first match wins, template ids from the key."""

from __future__ import annotations

import pytest

from clova_etl.config import RouteRule, default_routes
from clova_etl.pipeline.routing import Router, compile_glob, matches_any


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("inbox/general/**", "inbox/general/a.jpg", True),
        ("inbox/general/**", "inbox/general/2024/05/a b é.pdf", True),
        ("inbox/general/**", "inbox/generalx/a.jpg", False),
        ("inbox/*.jpg", "inbox/a.jpg", True),
        ("inbox/*.jpg", "inbox/sub/a.jpg", False),
        ("inbox/**/*.png", "inbox/a.png", True),
        ("inbox/**/*.png", "inbox/x/y/a.png", True),
        ("**/.*", ".keep", True),
        ("**/.*", "inbox/sub/.DS_Store", True),
        ("**/.*", "inbox/sub/a.jpg", False),
        ("inbox/?.jpg", "inbox/a.jpg", True),
        ("inbox/template/{template_id}/**", "inbox/template/42/x.png", True),
        ("inbox/template/{template_id}/**", "inbox/template/abc/x.png", False),
        ("inbox/a+b[1].jpg", "inbox/a+b[1].jpg", True),
    ],
)
def test_globs(pattern: str, key: str, expected: bool) -> None:
    assert bool(compile_glob(pattern).match(key)) is expected


def test_default_routes() -> None:
    router = Router(default_routes())
    general = router.route("inbox/general/receipts/r1.jpg")
    assert general is not None
    assert (general.name, general.api, general.enable_table_detection) == (
        "general",
        "general",
        True,
    )
    template = router.route("inbox/template/25072/scan 1.pdf")
    assert template is not None
    assert (template.api, template.template_ids) == ("template", (25072,))
    assert router.route("inbox/other/x.jpg") is None
    assert router.route("elsewhere/general/x.jpg") is None


def test_first_match_wins_and_lang_per_rule() -> None:
    router = Router(
        [
            RouteRule(name="jp", pattern="inbox/general/jp/**", lang="ja"),
            RouteRule(name="all", pattern="inbox/**", lang="ko"),
            RouteRule(name="never", pattern="inbox/general/**", lang="zh-TW"),
        ]
    )
    jp = router.route("inbox/general/jp/a.png")
    other = router.route("inbox/general/a.png")
    assert jp is not None and (jp.name, jp.lang) == ("jp", "ja")
    assert other is not None and (other.name, other.lang) == ("all", "ko")


def test_fixed_and_captured_template_ids() -> None:
    router = Router(
        [
            RouteRule(
                name="t", pattern="forms/{template_id}/**", api="template", template_ids=[7, 9]
            ),
            RouteRule(name="fixed", pattern="invoices/**", api="template", template_ids=[3]),
        ]
    )
    captured = router.route("forms/9/a.png")
    fixed = router.route("invoices/a.png")
    assert captured is not None and captured.template_ids == (9, 7)
    assert fixed is not None and fixed.template_ids == (3,)


def test_matches_any() -> None:
    assert matches_any("inbox/.tmp", ["**/.*"])
    assert not matches_any("inbox/a.jpg", ["**/.*", "*.tmp"])
