"""The card links the training job's log where a reader can open it (issue 13), and never a local path."""

from __future__ import annotations

from bot.core.card import render_card
from tests.core.test_card import facts


def test_the_card_links_the_kept_training_log() -> None:
    url = "http://bot.example/reports/" + "a" * 32
    body = render_card(facts(log_url=url))
    assert f"[training log]({url})" in body
    assert "[CI run](https://github.com/acme/churn/actions/runs/99)" in body


def test_a_log_that_is_not_a_web_link_is_left_out() -> None:
    body = render_card(facts(log_url="/tmp/work/jobs/j1/step0-train.log"))
    assert "training log" not in body and "/tmp/" not in body
