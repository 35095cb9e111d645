"""Continuous-training triggers beyond drift, and the one monitoring issue per model that holds them all.

A scheduled check of production data (`mlops-bot drift`) measures facts (`facts`); `judges` judges them:

- **quality**: the data's schema against the champion's training data, missing values, out-of-range values,
  duplicated rows. A schema break is reported at once and stops the drift check (drift on broken data is not
  drift); other failures count after `quality.consecutive` checks. Quality never retrains: it asks a human
  to fix the data.
- **drift**: `bot.core.drift.decide`, unchanged (N consecutive breaching checks).
- **performance**: the champion scored on labelled production rows, each metric judged against the value
  its run recorded at promotion, with the promotion gates' direction/tolerance vocabulary
  (`bot.core.gates`). N consecutive drops open a retrain PR. A check without labels is "no labels": not a
  pass, so it neither clears nor extends a streak.
- **schedule**: a retrain PR once the champion has served `retrain.schedule.every`, once per champion.

The state of every trigger (`state`) lives in the hidden metadata block of the model's issue (the drift
issue's marker and its version-1 keys are kept, so an existing drift history carries over). A check is
identified by its `check_id`: judging the same check again (`decide`) yields the same decision and the same
texts (`render`), so a re-run of `drift-report` changes nothing.

The names below are the public surface the CLI, the jobs and the Evidently adapter use.
"""

from __future__ import annotations

from bot.core.monitoring.decide import decide
from bot.core.monitoring.facts import (
    ChampionFacts,
    CheckFacts,
    ColumnQuality,
    MetricScore,
    PerformanceFacts,
    QualityFacts,
    facts_from_dict,
    facts_to_dict,
)
from bot.core.monitoring.judges import judge_performance, judge_quality, judge_schedule
from bot.core.monitoring.render import (
    check_comment_marker,
    issue_labels,
    issue_title,
    render_comment,
    render_issue,
    render_reply,
    render_retrain_pr,
    verdicts,
)
from bot.core.monitoring.state import BASE_LABELS, MonitorDecision, issue_marker
from bot.core.monitoring.values import parse_time

__all__ = [
    "BASE_LABELS",
    "ChampionFacts",
    "CheckFacts",
    "ColumnQuality",
    "MetricScore",
    "MonitorDecision",
    "PerformanceFacts",
    "QualityFacts",
    "check_comment_marker",
    "decide",
    "facts_from_dict",
    "facts_to_dict",
    "issue_labels",
    "issue_marker",
    "issue_title",
    "judge_performance",
    "judge_quality",
    "judge_schedule",
    "parse_time",
    "render_comment",
    "render_issue",
    "render_reply",
    "render_retrain_pr",
    "verdicts",
]
