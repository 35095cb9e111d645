"""The model card on a pull request: "Model Cards for Model Reporting" (Mitchell et al., 2019), for a PR.

`render_card` turns facts (`facts`) into markdown; it does no I/O. The facts are shaped into a view
(`context`, its plots drawn as Mermaid charts in `plots`) of already-escaped strings, so the template —
shipped, or a repository's own (`card_template` in the config) — only lays them out and cannot forget to
escape user text. The hidden marker is put on top by the code (`render`), not the template, so a custom
template cannot lose it; the whole body is fitted under GitHub's limit.
"""

from __future__ import annotations

from bot.core.card.context import card_context
from bot.core.card.facts import CardFacts
from bot.core.card.render import (
    TEMPLATE_OUTPUT_LIMIT,
    check_conclusion,
    check_run_output,
    render_card,
)

__all__ = [
    "TEMPLATE_OUTPUT_LIMIT",
    "CardFacts",
    "card_context",
    "check_conclusion",
    "check_run_output",
    "render_card",
]
