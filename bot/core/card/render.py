"""The card as a comment and as a Check Run: the view laid out by a template, the marker on top, the whole
fitted under GitHub's limit."""

from __future__ import annotations

from bot.core.card.context import card_context
from bot.core.card.facts import CardFacts
from bot.core.markdown import (
    CHECK_RUN_LIMIT,
    COMMENT_LIMIT,
    fit,
    render_template,
    render_text,
    squeeze_blank_lines,
)
from bot.core.markers import card_marker, find_markers

CARD_TEMPLATE = "card/model_card.md.j2"
# A repository's own template: what it may write (a card is fitted under 65,536 characters anyway) and
# how many items all its range() calls may ask for, so a template cannot spin the job on waste.
TEMPLATE_OUTPUT_LIMIT = 4 * COMMENT_LIMIT
TEMPLATE_RANGE_BUDGET = 10_000


def render_card(facts: CardFacts, template_text: str | None = None, *, limit: int = COMMENT_LIMIT) -> str:
    """The card comment: marker first, then the (shipped or repository) template, fitted under `limit`."""
    context = card_context(facts)
    if template_text is None:
        body = render_template(CARD_TEMPLATE, context)
    else:  # raises TemplateBoundError past the bounds, as any template error raises
        body = render_text(
            template_text, context, max_chars=TEMPLATE_OUTPUT_LIMIT, max_range_items=TEMPLATE_RANGE_BUDGET
        )
    marker = card_marker(facts.model.name)
    # A template that printed its own marker must not make two; any other marker-looking text is not ours.
    lines = [line for line in body.split("\n") if line.strip() != marker]
    body = squeeze_blank_lines("\n".join(lines))
    return fit(f"{marker}\n{body}", limit)


def check_run_output(facts: CardFacts) -> tuple[str, str, str]:
    """(title, summary, text) of the model's Check Run: a one-line title, the card as summary, and the
    gate reasons (plus the log tail of a failed run) as text. Each fits the Check Run limit (65,535)."""
    context = card_context(facts)
    title = context["headline_plain"]
    summary = render_card(facts, limit=CHECK_RUN_LIMIT)
    for marker in find_markers(summary):  # a check run is not searched by marker; keep it clean
        summary = summary.replace(marker + "\n", "", 1)
    details = render_template("card/check_run_text.md.j2", context)
    return title[:255], summary, fit(squeeze_blank_lines(details), CHECK_RUN_LIMIT)


def check_conclusion(facts: CardFacts) -> str | None:
    """The Check Run conclusion: None while waiting (the run stays queued)."""
    status = facts.effective_status
    if status == "waiting":
        return None
    if status == "failed":
        return "failure"
    return facts.decision.conclusion
