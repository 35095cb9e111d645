"""Markers are the keys of the bot's idempotent effects: stable, and impossible to forge or break."""

from __future__ import annotations

from bot.core.markers import card_marker, drift_marker, find_markers, reply_marker, retrain_marker


def test_marker_shapes_are_stable() -> None:
    assert card_marker("churn") == "<!-- mlops-bot:card model=churn -->"
    assert drift_marker("churn") == "<!-- mlops-bot:drift model=churn -->"
    assert retrain_marker("churn") == "<!-- mlops-bot:retrain model=churn -->"
    assert reply_marker("help") == "<!-- mlops-bot:reply kind=help -->"
    assert reply_marker("ok-to-test", "abc123") == "<!-- mlops-bot:reply kind=ok-to-test key=abc123 -->"


def test_markers_of_different_models_do_not_contain_each_other() -> None:
    assert card_marker("churn") not in card_marker("churn-v2")
    assert card_marker("churn-v2") not in card_marker("churn")


def test_hostile_names_cannot_end_the_comment_or_add_fields() -> None:
    marker = card_marker("x --> <script> model=y")
    assert marker.count("-->") == 1 and marker.endswith(" -->")
    assert " model=y" not in marker
    assert reply_marker("k", "a -->b c").count("-->") == 1


def test_find_markers() -> None:
    body = f"{card_marker('a')}\ntext\n{reply_marker('help')}\n<!-- not ours -->"
    assert find_markers(body) == [card_marker("a"), reply_marker("help")]
