"""`mlops-bot card`: the sticky model card comment and the Check Run, one per (PR, model)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import gates
from bot.core.card import CardFacts, check_run_output, render_card
from bot.core.markers import card_marker
from bot.core.models import PullFacts, TrainResult
from bot.core.tags import RunTags
from bot.jobs.common import JobEnv, ci_url

TAG_HEAD_SHA = RunTags.HEAD_SHA
TAG_OUTPUT_HASH = RunTags.OUTPUT_HASH


@dataclass(frozen=True)
class CardOutcome:
    model: str
    comment_id: int
    check_run_id: int
    conclusion: str


def check_name(model: str) -> str:
    return f"mlops-bot / {model}"


def results_for_commit(env: JobEnv, models: list[str], head_sha: str) -> list[TrainResult]:
    """For `/card` without a fresh training: the newest run of each model on this commit."""
    results = []
    for model in models:
        runs = env.registry.find_runs(model, {TAG_HEAD_SHA: head_sha})
        if runs:
            run = runs[0]
            results.append(
                TrainResult(
                    model=model,
                    run=run,
                    reused=True,
                    ok=True,
                    metrics=dict(run.metrics),
                    params=dict(run.params),
                    output_hash=run.tags.get(TAG_OUTPUT_HASH, ""),
                )
            )
        else:
            results.append(
                TrainResult(
                    model=model,
                    run=None,
                    reused=False,
                    ok=False,
                    error=f"No training run of {model} exists for commit {head_sha[:7]} yet. Comment `/train {model}`.",
                )
            )
    return results


def post_cards(env: JobEnv, results: list[TrainResult], pull: PullFacts) -> list[CardOutcome]:
    config = env.config
    template_text = env.gh.read_file(config.card_template) if config.card_template else None
    outcomes = []
    for result in results:
        spec = config.model(result.model)
        if spec is None:
            continue  # a model removed from the config since training: nothing to judge it by
        champion = env.registry.version_by_alias(spec.name, config.aliases.champion)
        decision = gates.evaluate(
            spec, result.metrics, champion.metrics if champion else None, promotion=config.promotion
        )
        facts = CardFacts(
            repo=env.repo,
            pr_number=pull.number,
            model=spec,
            result=result,
            champion=champion,
            decision=decision,
            head_sha=pull.head_sha,
            base_ref=pull.base_ref,
            run_url=result.run.url if result.run else "",
            ci_url=ci_url(),
        )
        body = render_card(facts, template_text)
        comment = env.gh.upsert_comment(pull.number, card_marker(spec.name), body)
        conclusion = decision.conclusion if result.ok else "failure"
        title, summary, text = check_run_output(facts)
        check_id = env.gh.upsert_check_run(
            pull.head_sha,
            check_name(spec.name),
            status="completed",
            conclusion=conclusion,
            title=title,
            summary=summary,
            text=text,
            details_url=(result.run.url if result.run and result.run.url else None),
        )
        outcomes.append(CardOutcome(spec.name, comment.id, check_id, conclusion))
    return outcomes
