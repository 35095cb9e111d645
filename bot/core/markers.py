"""Hidden HTML-comment markers that make the bot's GitHub texts findable and their edits idempotent.

A marker is the key of an effect: the card for `(pr, model)` is the bot's comment on that PR carrying
`card_marker(model)`; the drift issue of a model is the issue carrying `drift_marker(model)`. User text
that lands in a bot comment is escaped (bot.core.markdown) so it can never contain one.
"""

from __future__ import annotations

import re

PREFIX = "<!-- mlops-bot:"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/=-]")


def _token(value: str) -> str:
    """A marker field that cannot end the comment or add a field: only a small alphabet survives."""
    return _UNSAFE.sub("_", value)[:200] or "_"


def card_marker(model: str) -> str:
    return f"{PREFIX}card model={_token(model)} -->"


def drift_marker(model: str) -> str:
    return f"{PREFIX}drift model={_token(model)} -->"


def retrain_marker(model: str) -> str:
    return f"{PREFIX}retrain model={_token(model)} -->"


def reply_marker(kind: str, key: str = "") -> str:
    """Marker of a one-off reply; `key` distinguishes replies that must each stay unique (e.g. a run id)."""
    suffix = f" key={_token(key)}" if key else ""
    return f"{PREFIX}reply kind={_token(kind)}{suffix} -->"


_ANY = re.compile(r"<!-- mlops-bot:[^\n]*?-->")


def find_markers(body: str) -> list[str]:
    """Every mlops-bot marker in a body, in order (metadata blocks included)."""
    return _ANY.findall(body)


def without_markers(text: str) -> str:
    """`text` for a terminal or a JSON file: the hidden markers (and the blank space they leave) removed."""
    return _ANY.sub("", text).strip()
