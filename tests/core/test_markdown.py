"""Escaping, code blocks, folding, fitting under GitHub's limit and splitting long replies."""

from __future__ import annotations

import re

import pytest

from bot.core.markdown import (
    COMMENT_LIMIT,
    TRUNCATED_NOTE,
    code,
    code_block,
    escape_md,
    fit,
    fold,
    size,
    split,
)
from bot.core.markers import card_marker, find_markers


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain title", "plain title"),
        ("a | b", "a \\| b"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<!-- mlops-bot:card model=x -->", "&lt;!-- mlops-bot:card model=x --&gt;"),
        ("`code` and ```fence", "\\`code\\` and \\`\\`\\`fence"),
        ("[click](https://evil.example)", "\\[click\\](https://evil.example)"),
        ("line1\nline2\r\n| row |", "line1 line2 \\| row \\|"),
        ("ping @octocat and @org/team", "ping @\u200boctocat and @\u200borg/team"),
        ("a\\|b", "a\\\\\\|b"),
        ("&lt;", "&amp;lt;"),
        (None, ""),
        (0.5, "0.5"),
    ],
)
def test_escape_md(raw: object, escaped: str) -> None:
    assert escape_md(raw) == escaped


def test_escape_md_truncates() -> None:
    assert escape_md("x" * 100, max_len=10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    ("raw", "rendered"),
    [
        ("churn", "`churn`"),
        ("a`b", "``a`b``"),
        ("``", "``` `` ```"),
        ("a|b", "`a¦b`"),
        ("<!-- x -->", "`<\u200b!-- x -->`"),
        ("", ""),
    ],
)
def test_code_span_cannot_be_closed_from_inside(raw: str, rendered: str) -> None:
    assert code(raw) == rendered


def test_code_block_fence_outlasts_any_backticks_inside() -> None:
    log = "start\n```\n`````\nrm -rf / <!-- mlops-bot:card model=x -->\n"
    block = code_block(log, "text")
    first, *_, last = block.split("\n")
    assert first == "``````text" and last == "``````"
    assert "<!-- mlops-bot" not in block  # a log cannot forge a marker


def test_fold() -> None:
    assert fold("Log", "body\n") == "<details><summary>Log</summary>\n\nbody\n\n</details>"
    assert fold("Log", "b", open_=True).startswith("<details open>")


def test_size_counts_utf16_units() -> None:
    assert size("abc") == 3
    assert size("✅") == 1
    assert size("📈") == 2


def test_fit_leaves_short_bodies_alone() -> None:
    body = "hello\n" + fold("x", "y")
    assert fit(body) == body


def test_fit_shrinks_the_largest_folded_section() -> None:
    marker = card_marker("churn")
    small = fold("Params", "| a | b |\n" * 10)
    big = fold("Log", code_block("line of log output\n" * 10_000))
    body = f"{marker}\n# Card\n\n{small}\n\n{big}\n\nfooter\n"
    out = fit(body, 20_000)
    assert size(out) <= 20_000
    assert out.startswith(marker)
    assert small in out  # the small section was not touched
    assert TRUNCATED_NOTE in out
    assert out.endswith("footer\n")
    assert _fences_balanced(out)
    assert out.count("<details") == out.count("</details>")


def test_fit_cuts_the_body_when_folding_is_not_enough_and_keeps_markers() -> None:
    meta = '<!-- mlops-bot:meta {"streak":1} -->'
    body = (
        card_marker("m")
        + "\n"
        + "| row |\n" * 20_000
        + "```\nunclosed "
        + "x" * 100
        + "\n```\n"
        + meta
        + "\n"
    )
    out = fit(body, 10_000)
    assert size(out) <= 10_000
    assert find_markers(out) == [card_marker("m"), meta]
    assert TRUNCATED_NOTE in out
    assert _fences_balanced(out)


def test_fit_never_cuts_inside_a_marker() -> None:
    body = "a" * 90 + "\n<!-- mlops-bot:card model=m -->\n" + "b" * 200
    out = fit(body, 130)
    assert size(out) <= 130
    assert "<!-- mlops-bot:card model=m -->" in out
    assert not re.search(r"<!--(?![^\n]*-->)", out)


def test_fit_at_the_real_limit_with_a_5mb_section() -> None:
    body = (
        "top\n"
        + fold("Log", code_block("y" * 80 + "\n") * 1)
        + "\n"
        + fold("Big", "z" * 5_000_000)
        + "\nend\n"
    )
    out = fit(body)
    assert COMMENT_LIMIT - 500 < size(out) <= COMMENT_LIMIT
    assert out.endswith("end\n")


def test_split_keeps_every_line_and_balances_fences() -> None:
    lines = [f"line {i}" for i in range(5_000)]
    body = "intro\n```\n" + "\n".join(lines) + "\n```\noutro"
    parts = split(body, 8_000)
    assert len(parts) > 4
    assert all(size(p) <= 8_000 for p in parts)
    assert all(_fences_balanced(p) for p in parts)
    joined = "\n".join(parts)
    for i in (0, 1234, 4999):
        assert f"line {i}\n" in joined + "\n"
    assert parts[0].startswith("intro") and parts[-1].endswith("outro")


def test_split_reopens_details() -> None:
    body = fold("Long list", "\n".join(f"- item {i}" for i in range(3_000)))
    parts = split(body, 5_000)
    assert len(parts) > 2
    for part in parts:
        assert part.count("<details") == part.count("</details>")
    assert "(continued)" in parts[1]


def test_split_chops_a_single_huge_line() -> None:
    parts = split("x" * 200_000, 65_536)
    assert len(parts) == 4 and all(size(p) <= 65_536 for p in parts)
    assert "".join(parts).replace("\n", "") == "x" * 200_000


def test_split_short_body_is_one_part() -> None:
    assert split("short") == ["short"]


def _fences_balanced(text: str) -> bool:
    opening = ""
    for line in text.split("\n"):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if not m:
            continue
        run = m.group(1)
        if not opening:
            opening = run
        elif run[0] == opening[0] and len(run) >= len(opening) and not line.strip().strip(run[0]):
            opening = ""
    return opening == ""
