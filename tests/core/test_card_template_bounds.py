"""A repository's card template runs sandboxed *and bounded* (issue 18 finding 8): it cannot write without
limit, spin on range(), or build a gigabyte in one expression before the output bound sees it."""

from __future__ import annotations

import time

import pytest

from bot.core.card import TEMPLATE_OUTPUT_LIMIT, render_card
from bot.core.markdown import TemplateBoundError, render_text
from tests.core.test_card import facts


@pytest.mark.parametrize(
    "template",
    [
        pytest.param(
            "{% for i in range(99999) %}{{ name }} {{ gate.summary }}\n{% endfor %}", id="long-output"
        ),
        pytest.param(
            "{% for i in range(9000) %}{% for j in range(9000) %}{% endfor %}{% endfor %}", id="nested-ranges"
        ),
        pytest.param("{{ 'x' * 1000000000 }}", id="string-times-a-billion"),
        pytest.param("{{ ['x'] * 100000000 }}", id="list-times"),
        pytest.param("{{ 10 ** 100000000 }}", id="power"),
        pytest.param("{{ 'x'.center(1000000000) }}", id="str-method"),
        pytest.param("{{ 'x'|center(1000000000) }}", id="filter"),
        pytest.param("{{ 'x'|indent(1000000000) }}", id="indent-filter"),
    ],
)
def test_a_wasteful_card_template_is_stopped_quickly(template: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateBoundError):
        render_card(facts(), template)
    assert time.perf_counter() - started < 2.0


def test_the_output_bound_counts_what_streams_out() -> None:
    just_under = "x" * (TEMPLATE_OUTPUT_LIMIT - 10)
    assert render_text("{{ text }}", {"text": just_under}, max_chars=TEMPLATE_OUTPUT_LIMIT) == just_under
    with pytest.raises(TemplateBoundError, match="more than"):
        render_text("{{ text }}{{ text }}", {"text": just_under}, max_chars=TEMPLATE_OUTPUT_LIMIT)


def test_an_ordinary_custom_template_with_loops_still_renders() -> None:
    body = render_card(facts(), "{% for i in range(3) %}{{ name }}-{{ i }} {% endfor %}{{ '-' * 20 }}\n")
    assert "churn-0 churn-1 churn-2 " + "-" * 20 in body
