"""The card's view: everything the template prints, already escaped, so a template (shipped, or a
repository's own) only lays it out and cannot forget to escape user text."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.card.facts import CardFacts
from bot.core.card.plots import finite_number, plot_views
from bot.core.card.same_data import production_view, same_data_view, worst_slice_headline
from bot.core.config import ModelSpec
from bot.core.gates import Decision, Verdict, fmt, fmt_group
from bot.core.markdown import code, code_block, escape_md, escape_md_keeping_code

LOG_TAIL_LINES = 200
LOG_TAIL_CHARS = 20_000
MAX_TABLE_ROWS = 200  # params/metrics beyond this are left to the CI artifact
MAX_CELL = 80
FOLD_ROWS = 12  # tables longer than this are folded


def card_context(facts: CardFacts) -> dict[str, Any]:
    result, spec = facts.result, facts.model
    status = facts.effective_status
    candidate = dict(result.metrics or (result.run.metrics if result.run else {}))
    champion_metrics = dict(facts.champion.metrics) if facts.champion else None
    run_url = facts.run_url or (result.run.url if result.run else "")
    sha = facts.head_sha
    context: dict[str, Any] = {
        "name": escape_md(spec.name),
        "name_code": code(spec.name),
        "model_name": spec.name,  # for commands: the config's name pattern keeps it inert
        "status": status,
        "repo": escape_md(facts.repo),
        "pr_number": facts.pr_number,
        "pr_title": escape_md(facts.pr_title, max_len=200),
        "sha": code(sha[:12]),
        "sha_full": sha,
        "base_ref": code(facts.base_ref),
        "stage": code(spec.stage),
        "flavor": escape_md(spec.flavor),
        "output": code(spec.output),
        "run_id": code(result.run.run_id) if result.run else "",
        "run_url": _url(run_url),
        "ci_url": _url(facts.ci_url),
        "artifact_url": _url(facts.artifact_url),
        "log_url": _url(facts.log_url),
        "intended_use": _trusted(spec.intended_use),
        "caveats": [_trusted(c) for c in spec.caveats],
        "champion": _champion_view(facts),
        "champion_alias": escape_md(facts.champion_alias),
        "first_model": facts.champion is None,
        "metrics": _metric_rows(spec, candidate, champion_metrics, facts.decision),
        "base_metrics": _base_rows(candidate, result.base_metrics),
        "params_diff": _params_rows(result.params_diff),
        # a first card has no champion and often no base: every parameter, so the reader knows what was run
        "params": _all_params_rows(result.params) if facts.champion is None else [],
        "lineage": _lineage_rows(result.lineage, spec.training_data),
        "plots": plot_views(
            result.plots,
            run_id=result.run.run_id if result.run else "",
            run_url=_url(run_url),
            artifact_url=_url(facts.artifact_url),
        ),
        "gate": _gate_view(facts.decision),
        "reproduce": code_block(facts.reproduce or _default_reproduce(facts), "sh"),
        # a reused run took seconds to find: the card tells how long its training took
        "duration": _duration(
            result.trained_duration_s
            if status == "reused" and result.trained_duration_s
            else result.duration_s
        )
        if status != "reused" or result.trained_duration_s
        else "",
        "output_hash": code(result.output_hash[:12]) if result.output_hash else "",
        "error": escape_md_keeping_code(result.error, max_len=500),
        "warnings": [escape_md_keeping_code(w, max_len=500) for w in result.warnings[:10]],
        "log": _log_view(result.log_tail),
        "waiting_reason": escape_md_keeping_code(facts.waiting_reason, max_len=300),
        "failed_before_stage": result.failed_before_stage,
        "nothing_reproduced": status == "trained" and result.reproduced is False,
        "on_merge": facts.on_merge,
        "updated_at": escape_md(facts.updated_at),
        "fold_rows": FOLD_ROWS,
        "same_data": same_data_view(facts),
        "production": production_view(facts),
    }
    context["headline"], context["headline_plain"] = _headline(facts, context)
    return context


def _url(url: str) -> str:
    """A link target we print as `[text](url)`: only http(s), and nothing that ends the link early."""
    if not url.startswith(("https://", "http://")):
        return ""
    return url.replace(" ", "%20").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def _trusted(text: str) -> str:
    """Text from the repository's config (default branch, maintainers): markdown allowed, markers not."""
    return text.replace("<!--", "&lt;!--").strip()


def _headline(facts: CardFacts, context: Mapping[str, Any]) -> tuple[str, str]:
    status = facts.effective_status
    name = facts.model.name
    if status == "waiting":
        why = f": {facts.waiting_reason}" if facts.waiting_reason else ""
        return f"⏳ Waiting to train{escape_md_keeping_code(why, max_len=300)}", f"{name}: waiting to train"
    if status == "failed" and facts.result.failed_before_stage:
        return "❌ Training could not start: the DVC data could not be fetched", f"{name}: training failed"
    if status == "failed":
        return f"❌ Training failed at stage {context['stage']}", f"{name}: training failed"
    decision = facts.decision
    verb = "Reused an existing run" if status == "reused" else "Trained"
    gate = decision.summary()
    mark = {"success": "✅", "failure": "❌", "neutral": "➖"}[decision.conclusion]
    worst, worst_plain = worst_slice_headline(facts)
    if worst:
        return f"{mark} {verb} · {gate} · {worst}", f"{name}: {gate} · {worst_plain}"
    return f"{mark} {verb} · {gate}", f"{name}: {gate}"


def _champion_view(facts: CardFacts) -> dict[str, str] | None:
    champ = facts.champion
    if champ is None:
        return None
    return {"version": escape_md(champ.version), "run_id": code(champ.run_id)}


def _metric_rows(
    spec: ModelSpec, candidate: Mapping[str, float], champion: Mapping[str, float] | None, decision: Decision
) -> list[dict[str, str]]:
    by_metric: dict[str, list[Verdict]] = {}
    for verdict in decision.verdicts:
        if verdict.metric:
            by_metric.setdefault(verdict.metric, []).append(verdict)
    names = [m.name for m in spec.metrics]
    names += sorted(k for k in candidate if k not in names)
    rows = []
    for name in names[:MAX_TABLE_ROWS]:
        metric = spec.metric(name)
        value = finite_number(candidate.get(name))
        reference = finite_number(champion.get(name)) if champion else None
        verdicts = by_metric.get(name, [])
        if metric is None:
            mark = "not gated"
        elif not verdicts:
            mark = "–"
        elif all(v.passed for v in verdicts):
            mark = "✅" if any(v.judged for v in verdicts) else "➖"
        else:
            mark = "❌"
        delta, rel = _deltas(value, reference)
        arrow = (
            ""
            if metric is None
            else ("↑ higher is better" if metric.direction == "higher" else "↓ lower is better")
        )
        shown, shown_reference = _side_by_side(value, reference)
        rows.append(
            {
                "name": code(name, max_len=MAX_CELL),
                "candidate": shown if value is not None else "missing",
                "champion": shown_reference if reference is not None else "–",
                "delta": delta,
                "relative": rel,
                "direction": arrow,
                "verdict": mark,
            }
        )
    return rows


def _deltas(value: float | None, reference: float | None) -> tuple[str, str]:
    if value is None or reference is None:
        return "–", "–"
    diff = value - reference
    (text,) = fmt_group(diff) if diff else ("0",)
    sign = "+" if diff > 0 else ""
    rel = "–" if reference == 0 else _percent(diff / abs(reference) * 100)
    return f"{sign}{text}", rel


def _side_by_side(value: float | None, reference: float | None) -> tuple[str, str]:
    """Two values with the decimals that tell them apart (0.9712 and 0.9708, not 0.971 twice)."""
    if value is None or reference is None:
        return (fmt(value) if value is not None else "", fmt(reference) if reference is not None else "")
    shown, shown_reference = fmt_group(value, reference)
    return shown, shown_reference


def _percent(relative: float) -> str:
    """A relative change with two significant digits when under 1 % (+0.04 %, not +0.0 %)."""
    if relative == 0 or not math.isfinite(relative):
        return "0 %" if relative == 0 else "–"
    if abs(relative) >= 1:
        return f"{relative:+.1f} %"
    decimals = min(8, 1 - math.floor(math.log10(abs(relative))))
    return f"{relative:+.{decimals}f} %"


def _base_rows(candidate: Mapping[str, float], base: Mapping[str, float]) -> list[dict[str, str]]:
    if not base:
        return []
    rows = []
    for name in sorted(set(candidate) | set(base))[:MAX_TABLE_ROWS]:
        new, old = finite_number(candidate.get(name)), finite_number(base.get(name))
        delta, rel = _deltas(new, old)
        shown_new, shown_old = _side_by_side(new, old)
        rows.append(
            {
                "name": code(name, max_len=MAX_CELL),
                "base": shown_old if old is not None else "–",
                "pr": shown_new if new is not None else "–",
                "delta": delta,
                "relative": rel,
            }
        )
    return rows


def _params_rows(diff: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for key in sorted(diff)[:MAX_TABLE_ROWS]:
        change = diff[key]
        rows.append(
            {
                "key": code(key, max_len=MAX_CELL),
                "old": _param_value(change.get("old")),
                "new": _param_value(change.get("new")),
            }
        )
    return rows


def _all_params_rows(params: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"key": code(key, max_len=MAX_CELL), "value": _param_value(params[key])}
        for key in sorted(params)[:MAX_TABLE_ROWS]
    ]


def _param_value(value: Any) -> str:
    if value is None:
        return "–"
    return escape_md(value if isinstance(value, str) else repr(value), max_len=MAX_CELL) or '""'


def _lineage_rows(lineage: Mapping[str, str], declared: Sequence[str]) -> list[dict[str, str]]:
    paths = list(lineage) + [p for p in declared if p not in lineage]
    return [
        {"path": code(p, max_len=120), "md5": code(lineage[p]) if lineage.get(p) else "not tracked by DVC"}
        for p in paths[:MAX_TABLE_ROWS]
    ]


def _gate_view(decision: Decision) -> dict[str, Any]:
    return {
        "conclusion": decision.conclusion,
        "allowed": decision.allowed,
        "summary": escape_md(decision.summary()),
        "failed": escape_md(", ".join(v.name for v in decision.failures)),
        "verdicts": [
            {
                "mark": ("✅" if v.judged else "➖") if v.passed else "❌",
                "reason": escape_md(v.reason, max_len=300),
            }
            for v in decision.verdicts
        ],
    }


def _default_reproduce(facts: CardFacts) -> str:
    name = facts.model.name
    return "\n".join(
        [
            f"git checkout {facts.head_sha or '<commit>'}",
            f"dvc repro {' '.join(facts.result.stages or [facts.model.stage])}",
            "# or, logged to MLflow and judged like this card:",
            f"mlops-bot train --model {name}",
        ]
    )


def _duration(seconds: float) -> str:
    if not seconds:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


def _log_view(log: str) -> dict[str, Any] | None:
    if not log:
        return None
    # Only the end of the log matters for a failure; a 5 MB log must not be copied around in full.
    tail = log[-LOG_TAIL_CHARS * 2 :]
    lines = tail.rstrip("\n").split("\n")
    shown = lines[-LOG_TAIL_LINES:]
    text = "\n".join(shown)
    if len(text) > LOG_TAIL_CHARS:
        text = text[-LOG_TAIL_CHARS:]
        text = text[text.find("\n") + 1 :] if "\n" in text else text
    cut = len(text) < len(log.rstrip("\n"))
    return {"block": code_block(text, "text"), "lines": text.count("\n") + 1, "cut": cut}
