"""What each action leaves on its run page: the step outputs and the `$GITHUB_STEP_SUMMARY` Markdown, from
the JSON its command wrote (`train --json`, `promote --json`, `drift --json` + `drift-report --json`).

Pure: a function from the parsed JSON (whatever shape a failed or missing file left: None, a dict, a list)
to a `StepSummary`. Every documented output is always set, empty when unknown, so `steps.x.outputs.y` is
never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepSummary:
    outputs: dict[str, str]
    markdown: str
    warnings: list[str] = field(default_factory=list)


def _items(data: Any) -> list[dict[str, Any]]:
    """The per-model entries of a results file: a list, or a dict with `results`, or one dict."""
    if isinstance(data, dict):
        data = data.get("results", [data])
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cell(value: Any) -> str:
    """Text safe inside one Markdown table cell."""
    text = " ".join(str(value if value is not None else "").split())
    return text.replace("|", "\\|")


def train_summary(data: Any, *, card_url: str = "") -> StepSummary:
    results = _items(data)
    runs = [_dict(r.get("run")) for r in results]
    run_ids = [str(run.get("run_id", "")) for run in runs if run.get("run_id")]
    run_urls = [str(run.get("url", "")) for run in runs if run.get("url")]
    ok = bool(results) and all(r.get("ok") for r in results)
    reused = bool(results) and all(r.get("reused") for r in results)
    outputs = {
        "run-id": run_ids[0] if run_ids else "",
        "run-ids": " ".join(run_ids),
        "run-url": run_urls[0] if run_urls else "",
        "card-url": card_url,
        "conclusion": "success" if ok else "failure",
        "reused": "true" if reused else "false",
    }
    lines = ["## mlops-bot train", ""]
    if not results:
        lines.append("Training wrote no results: it stopped before the first model (see the log).")
    else:
        lines += ["| model | result | MLflow run | metrics |", "|---|---|---|---|"]
        for result, run in zip(results, runs, strict=True):
            if not result.get("ok"):
                state = f"failed: {result.get('error', '')}"
            else:
                state = "reused" if result.get("reused") else "trained"
            run_id = str(run.get("run_id", ""))
            link = f"[{run_id[:12]}]({run['url']})" if run.get("url") and run_id else run_id
            metrics = _dict(result.get("metrics"))
            shown = ", ".join(f"{k} {_number(v)}" for k, v in sorted(metrics.items()))
            lines.append(
                f"| {_cell(result.get('model'))} | {_cell(state)} | {_cell(link)} | {_cell(shown)} |"
            )
    if card_url:
        lines += ["", f"Model card: {card_url}"]
    return StepSummary(outputs, "\n".join(lines))


_PROMOTE_RANK = ("failure", "refused", "planned", "promoted")
_PROMOTE_STATUS = {
    "failed": "failure",
    "refused": "refused",
    "no-candidate": "refused",
    "planned": "planned",
    "promoted": "promoted",
    "already": "promoted",
}


def promote_summary(data: Any, *, api_url: str = "", repo: str = "") -> StepSummary:
    results = _items(data)
    first = results[0] if results else {}
    # Worst outcome over all models: one refused model is what the workflow shows.
    seen = {_PROMOTE_STATUS.get(str(r.get("status")), "failure") for r in results} or {"failure"}
    conclusion = next(c for c in _PROMOTE_RANK if c in seen)
    deployment = first.get("deployment_id") or 0
    deployment_url = (
        f"{api_url.rstrip('/')}/repos/{repo}/deployments/{deployment}"
        if deployment and api_url and repo
        else ""
    )
    version = str(first.get("version") or "") if first.get("status") in ("promoted", "already") else ""
    outputs = {
        "conclusion": conclusion,
        "version": version,
        "model-version": version,
        "run-id": str(first.get("run_id") or ""),
        "bento-tag": str(first.get("bento_tag") or ""),
        "deployment-url": deployment_url,
    }
    planned = any(r.get("status") == "planned" for r in results)
    lines = ["## mlops-bot promote" + (" (plan, nothing changed)" if planned else ""), ""]
    if not results:
        lines.append("The promotion wrote no results: it stopped before the first model (see the log).")
    else:
        lines += ["| model | outcome | version | previous | why |", "|---|---|---|---|---|"]
        for r in results:
            reasons = _list(r.get("reasons"))
            lines.append(
                f"| {_cell(r.get('model'))} | {_cell(r.get('status'))} | {_cell(r.get('version'))} | "
                f"{_cell(r.get('previous'))} | {_cell('; '.join(str(x) for x in reasons))} |"
            )
    if deployment_url:
        lines += ["", f"Deployment: {deployment_url}"]
    # A dry run's plan, as the bot's reply on the PR renders it: the steps the real run takes.
    plans = [p for r in results if r.get("status") == "planned" and (p := str(r.get("plan") or "").strip())]
    return StepSummary(outputs, "\n\n".join(["\n".join(lines), *plans]))


def drift_summary(check: Any, report: Any) -> StepSummary:
    checks, reports = _items(check), _items(report)
    drifted = [
        str(c.get("column"))
        for s in checks
        for c in _list(s.get("columns"))
        if isinstance(c, dict) and c.get("drifted")
    ]
    first = reports[0] if reports else {}
    fired = [str(t) for r in reports for t in _list(r.get("fired"))]
    outputs = {
        "drift": "true" if any(s.get("dataset_drift") for s in checks) else "false",
        "drifted-columns": ",".join(dict.fromkeys(drifted)),
        "fired": "true" if fired else "false",
        "issue-number": str(first.get("issue") or ""),
        "pr-number": str(first.get("retrain_pr") or ""),
    }
    lines = ["## mlops-bot drift", ""]
    if not checks and not reports:
        lines.append("The drift check wrote no summary: it stopped before judging the data (see the log).")
    for s in checks:
        error = s.get("error")
        verdict = f"error: {error}" if error else ("drift" if s.get("dataset_drift") else "no drift")
        lines.append(f"- **{_cell(s.get('model'))}**: {_cell(verdict)}")
        columns = [c for c in _list(s.get("columns")) if isinstance(c, dict) and c.get("drifted")]
        if columns:
            lines.append("  drifted: " + ", ".join(_cell(c.get("column")) for c in columns))
    for r in reports:
        lines.append(
            f"- {_cell(r.get('model'))}: action {_cell(r.get('action'))}, fired: {_cell(', '.join(fired) or 'none')}"
            + (f", issue #{r['issue']}" if r.get("issue") else "")
            + (f", retrain PR #{r['retrain_pr']}" if r.get("retrain_pr") else "")
        )
        url = str(r.get("report_url") or "")
        if url.startswith(("https://", "http://")):  # the link the issue got; never a path on the runner
            lines.append(f"  report: [Evidently report]({url})")
    return StepSummary(outputs, "\n".join(lines))


def _number(value: Any) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)
