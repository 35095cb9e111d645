"""`mlops-bot card`: the sticky model card comment and the Check Run, one per (PR, model)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.core import gates
from bot.core.card import CardFacts, check_run_output, render_card
from bot.core.config import RepoConfig
from bot.core.evaluation import CHAMPION_METRIC_PREFIX
from bot.core.markers import card_marker, find_markers
from bot.core.models import CommentRef, PullFacts, TrainResult
from bot.core.tags import RunTags
from bot.jobs.alongside import alongside
from bot.jobs.common import JobEnv, ci_url
from bot.jobs.job_reports import JobReports
from bot.jobs.train_evaluation import PRODUCTION_ARTIFACT, recorded_comparison
from bot.ports import RepoGitHub

TAG_HEAD_SHA = RunTags.HEAD_SHA
TAG_OUTPUT_HASH = RunTags.OUTPUT_HASH


@dataclass(frozen=True)
class CardOutcome:
    model: str
    comment_id: int
    check_run_id: int
    conclusion: str
    url: str = ""  # the card comment's
    body: str = ""
    failed_gates: tuple[tuple[str, str], ...] = ()  # (metric, reason) of each gate that said no


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
                    metrics={
                        k: v for k, v in run.metrics.items() if not k.startswith(CHAMPION_METRIC_PREFIX)
                    },
                    params=dict(run.params),
                    output_hash=run.tags.get(TAG_OUTPUT_HASH, ""),
                    trained_duration_s=_seconds(run.tags.get(RunTags.TRAINED_SECONDS, "")),
                    same_data=recorded_comparison(env.registry, run),
                    production=recorded_comparison(env.registry, run, artifact=PRODUCTION_ARTIFACT),
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def post_cards(
    env: JobEnv,
    results: list[TrainResult],
    pull: PullFacts,
    *,
    untrusted: bool = False,
    reports: JobReports | None = None,
) -> list[CardOutcome]:
    """One card and Check Run per result. `untrusted`: the results came from a run of a fork's code, whose
    numbers the card shows but the Check Run never calls a success (at best `neutral`). `reports`: where the
    card is kept and the training log was (the card links that log, the Check Run's details the kept card)."""
    config = env.config
    template_text = env.gh.read_file(config.card_template) if config.card_template else None
    outcomes = []
    checks_gh = env.gh.beside()
    for result in results:
        spec = config.model(result.model)
        if spec is None:
            continue  # a model removed from the config since training: nothing to judge it by
        champion = env.registry.version_by_alias(spec.name, config.aliases.champion)
        run_id = result.run.run_id if result.run else ""
        train_log = reports.earlier_log_links("train", run_id) if reports is not None else None
        decision = gates.evaluate(
            spec,
            result.metrics,
            champion.metrics if champion else None,
            promotion=config.promotion,
            same_data=result.same_data,
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
            log_url=(train_log.bot or train_log.mlflow) if train_log is not None else "",
            same_data=result.same_data,
            production=result.production,
        )
        conclusion = decision.conclusion if result.ok else "failure"
        card_url = reports.card_url(spec.name, pull.number, pull.head_sha, run_id) if reports else ""
        if untrusted and conclusion == "success":
            conclusion = "neutral"
        # The card and its Check Run are written at once, each on a client of its own; neither waits for the
        # other, nor is lost when the other fails (bot/jobs/alongside.py).
        (body, comment), check_id = alongside(
            functools.partial(_post_card, env.gh, pull.number, facts, template_text),
            functools.partial(_write_check, checks_gh, facts, conclusion, card_url),
        )
        if reports is not None:
            reports.keep_card(spec.name, pull.number, pull.head_sha, body, run_id)
        failed_gates = tuple(
            (v.metric or "", v.reason) for v in decision.verdicts if v.judged and not v.passed
        )
        outcomes.append(
            CardOutcome(spec.name, comment.id, check_id, conclusion, comment.url, body, failed_gates)
        )
    return outcomes


def _post_card(
    gh: RepoGitHub, number: int, facts: CardFacts, template_text: str | None
) -> tuple[str, CommentRef]:
    body = render_card(facts, template_text)
    return body, gh.upsert_comment(number, card_marker(facts.model.name), body)


def _write_check(gh: RepoGitHub, facts: CardFacts, conclusion: str, card_url: str = "") -> int:
    title, summary, text = check_run_output(facts)
    run = facts.result.run
    return gh.upsert_check_run(
        facts.head_sha,
        check_name(facts.model.name),
        status="completed",
        conclusion=conclusion,
        title=title,
        summary=summary,
        text=text,
        details_url=card_url or (run.url if run and run.url else None),  # the kept card, else the run
    )


def local_cards(config: RepoConfig, results: list[TrainResult], *, head_sha: str = "") -> str:
    """The cards of a local training result (`mlops-bot train --offline-config ... --json`), as a person
    reads them: no GitHub, no champion (the gates judge the absolute limits), no hidden markers."""
    cards = []
    for result in results:
        spec = config.model(result.model)
        if spec is None:
            continue
        sha = head_sha or (result.run.tags.get(TAG_HEAD_SHA, "") if result.run else "")
        facts = CardFacts(
            repo="",
            pr_number=None,
            model=spec,
            result=result,
            champion=None,
            decision=gates.evaluate(spec, result.metrics, None, promotion=config.promotion),
            head_sha=sha,
            base_ref="",
            champion_alias=config.aliases.champion,
            on_merge=config.promotion.on_merge,
        )
        body = render_card(facts)
        for marker in find_markers(body):
            body = body.replace(marker + "\n", "", 1).replace(marker, "")
        cards.append(body.strip("\n") + "\n")
    return "\n---\n\n".join(cards)


# -- results uploaded by a run that executed a fork's code -------------------------------------------------
MAX_RESULTS_BYTES = 1_000_000  # a results file is a few kB; anything near this is not one
MAX_RESULT_MODELS = 50
MAX_ENTRIES = 200  # metrics, params or lineage entries per model
MAX_TEXT = 4_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # ModelSpec.name
_KEY = re.compile(r"^[A-Za-z0-9_.:/ -]{1,200}$")
_HASH = re.compile(r"^[0-9a-f]{0,128}$")
_STAGE = re.compile(r"^[A-Za-z0-9_.@:/-]{1,200}$")  # a dvc.yaml stage name, `foreach` items included


class UntrustedResultsError(ValueError):
    """A results file from an untrusted run that is not what `mlops-bot train --json` writes."""


def untrusted_results(raw: bytes) -> list[TrainResult]:
    """Results uploaded by a run that executed a fork's code, read as DATA: bounded in size, every field
    checked against the shape `mlops-bot train --json` writes, anything else dropped or refused.

    What such a file says was computed by code nobody vouches for, so it never names an MLflow run (a link
    and a model the card would vouch for), base metrics or plots: only the candidate's own numbers, which the
    card shows and the Check Run never turns into a success (see `post_cards(untrusted=True)`)."""
    if len(raw) > MAX_RESULTS_BYTES:
        raise UntrustedResultsError(f"the results file is {len(raw)} bytes; at most {MAX_RESULTS_BYTES}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UntrustedResultsError(f"the results file is not JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    if not 1 <= len(items) <= MAX_RESULT_MODELS:
        raise UntrustedResultsError(f"the results file must list 1 to {MAX_RESULT_MODELS} models")
    return [_untrusted_result(i, item) for i, item in enumerate(items)]


def _untrusted_result(index: int, item: Any) -> TrainResult:
    where = f"result {index}"
    if not isinstance(item, dict):
        raise UntrustedResultsError(f"{where} is not an object")
    model = item.get("model")
    if not isinstance(model, str) or not _NAME.match(model):
        raise UntrustedResultsError(f"{where}: `model` is not a model name")
    ok = item.get("ok")
    if not isinstance(ok, bool):
        raise UntrustedResultsError(f"{where}: `ok` must be true or false")
    output_hash = item.get("output_hash", "")
    if not isinstance(output_hash, str) or not _HASH.match(output_hash):
        raise UntrustedResultsError(f"{where}: `output_hash` is not a hash")
    return TrainResult(
        model=model,
        run=None,
        reused=False,
        ok=ok,
        output_hash=output_hash,
        metrics=_mapping(where, "metrics", item.get("metrics", {}), _number),
        params=_mapping(where, "params", item.get("params", {}), _scalar_text),
        lineage=_mapping(where, "lineage", item.get("lineage", {}), _hash_text),
        log_tail=_text(where, "log_tail", item.get("log_tail", "")),
        error=_text(where, "error", item.get("error", "")),
        stages=_stages(where, item.get("stages", [])),
    )


def _stages(where: str, value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_ENTRIES
        or not all(isinstance(v, str) and _STAGE.match(v) for v in value)
    ):
        raise UntrustedResultsError(f"{where}: `stages` must be a list of dvc.yaml stage names")
    return list(value)


def _mapping(where: str, name: str, value: Any, convert: Callable[[Any], Any]) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > MAX_ENTRIES:
        raise UntrustedResultsError(f"{where}: `{name}` must be an object of at most {MAX_ENTRIES} entries")
    out: dict[str, Any] = {}
    for key, item in value.items():
        converted = convert(item)
        if not _KEY.match(key) or converted is None:
            raise UntrustedResultsError(f"{where}: `{name}` has an entry that is not of the expected shape")
        out[key] = converted
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool | int | float | str) and len(str(value)) <= 200:
        return str(value)
    return None


def _hash_text(value: Any) -> str | None:
    return value if isinstance(value, str) and _HASH.match(value) else None


def _text(where: str, name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise UntrustedResultsError(f"{where}: `{name}` must be text")
    return value[-MAX_TEXT:]
