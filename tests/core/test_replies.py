"""Reply texts: each carries its marker, says what happened and what to do, and shows user text inert."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from bot.core import replies
from bot.core.config import Aliases, MetricSpec, ModelSpec, Promotion
from bot.core.gates import evaluate
from bot.core.markers import find_markers, reply_marker
from bot.core.models import ColumnDrift, DriftSummary, ModelVersion, RunRecord


@dataclass
class Outcome:
    model: str
    status: str
    version: str = ""
    previous: str = ""
    run_id: str = ""
    bento_tag: str = ""
    bento_note: str = ""
    deployment_id: int = 0
    deployment_state: str = ""
    reasons: list[str] = field(default_factory=list)
    environment: str = ""
    alias: str = ""


SPEC = ModelSpec(name="churn", stage="train", output="m.pkl", metrics=[MetricSpec(name="f1", tolerance=0.01)])
RUN = RunRecord("run42", "churn", {"f1": 0.93}, {}, {}, url="http://127.0.0.1:5000/#/runs/run42")
CHAMPION = ModelVersion("churn", "3", "run7", metrics={"f1": 0.92})
DRIFT = DriftSummary("churn", True, 0.6, 0.5, (ColumnDrift("age", 0.01, "ks", 0.05, True),), 10, 10, 10, 10)


def plan(champion: ModelVersion | None = CHAMPION, metrics: dict[str, float] | None = None) -> str:
    decision = evaluate(
        SPEC, metrics or RUN.metrics, champion.metrics if champion else None, promotion=Promotion()
    )
    return replies.promotion_plan(
        model="churn",
        run=RUN,
        existing_version=None,
        champion=champion,
        aliases=Aliases(),
        decision=decision,
        environment="production",
    )


CASES: list[tuple[str, Callable[[], str], list[str]]] = [
    (
        "refused",
        lambda: replies.refused("alice", "`/promote` needs maintain permission or higher; you have write"),
        ["@alice", "needs maintain", "you have write"],
    ),
    ("not enabled", lambda: replies.not_enabled("drift"), ["`/drift` is not enabled"]),
    (
        "unknown model",
        lambda: replies.unknown_model("fraud", ["churn", "upsell"]),
        ["no model `fraud`", "Configured: `churn`, `upsell`"],
    ),
    ("unknown model, none configured", lambda: replies.unknown_model("fraud", []), ["under `models:`"]),
    ("model required", lambda: replies.model_required("train", ["a", "b"]), ["`/train a`, `/train b`"]),
    (
        "config broken",
        lambda: replies.config_broken("f.yml: line 3: models.0.name: Field required"),
        ["line 3: models.0.name: Field required", "mlops-bot config check"],
    ),
    ("no config", lambda: replies.no_config(), ["mlops-bot init"]),
    ("pull only", lambda: replies.pull_only("train"), ["pull requests only"]),
    ("pull closed", lambda: replies.pull_closed("promote"), ["closed"]),
    ("fork waiting", lambda: replies.fork_waiting("a" * 40), ["`/ok-to-test`", "`aaaaaaaaaaaa`"]),
    ("ok-to-test", lambda: replies.ok_to_test_recorded("bob", "b" * 40), ["@bob allowed", "`bbbbbbbbbbbb`"]),
    ("ok-to-test not needed", lambda: replies.ok_to_test_not_needed(), ["not come from a fork"]),
    ("needs merge", lambda: replies.promote_needs_merge("churn"), ["`/promote churn --dry-run`"]),
    (
        "no candidate",
        lambda: replies.no_candidate("churn", "c" * 40, "abc123"),
        ["`churn`", "`cccccccccccc`", "`abc123`", "Nothing was promoted"],
    ),
    (
        "plan",
        lambda: plan(),
        [
            "dry run: nothing changed",
            "[`run42`](http://127.0.0.1:5000/#/runs/run42)",
            "| Alias `champion` | version 3 → the new version |",
            "| Alias `previous` | → version 3 |",
            "✅ f1 0.930 vs champion 0.920: improved by 0.010",
        ],
    ),
    (
        "plan, first model",
        lambda: plan(champion=None),
        ["| Alias `champion` | no version → the new version |"],
    ),
    ("plan, refused", lambda: plan(metrics={"f1": 0.5}), ["would be **refused**", "❌ f1 0.500 vs champion"]),
    (
        "promoted",
        lambda: replies.promotion_result(
            Outcome(
                "churn",
                "promoted",
                "4",
                "3",
                "run42",
                "churn:v4",
                "no Docker daemon: containerize skipped",
                9,
                "success",
            )
        ),
        [
            "version 4 is now champion",
            "Previous champion: version 3",
            "`churn:v4`",
            "no Docker daemon",
            "#9 (success)",
        ],
    ),
    (
        "promoted to staging",
        lambda: replies.promotion_result(
            Outcome("churn", "promoted", "5", "4", "run42", environment="staging", alias="staging")
        ),
        ["version 5 is now in `staging` (alias `staging`)", "Before it: version 4", "--to production"],
    ),
    (
        "first promotion",
        lambda: replies.promotion_result(Outcome("churn", "promoted", "1", "", "run42")),
        ["first champion"],
    ),
    (
        "already",
        lambda: replies.promotion_result(Outcome("churn", "already", "4", run_id="run42")),
        ["already the champion; nothing changed"],
    ),
    (
        "gates refused",
        lambda: replies.promotion_result(
            Outcome(
                "churn", "refused", previous="3", run_id="run42", reasons=["f1 0.9 vs champion 0.95: dropped"]
            )
        ),
        ["was not promoted", "- f1 0.9 vs champion 0.95: dropped", "(version 3) is unchanged"],
    ),
    (
        "build failed",
        lambda: replies.promotion_result(
            Outcome("churn", "failed", "4", "3", "run42", reasons=["the BentoML build failed: x"])
        ),
        ["Promotion of `churn` failed", "did not move"],
    ),
    (
        "rolled back",
        lambda: replies.rollback_result(
            Outcome("churn", "rolled-back", "3", "4", "run7", deployment_id=5, deployment_state="success")
        ),
        ["rolled back to version 3", "Was: version 4", "#5 (success)"],
    ),
    ("nothing to roll back", lambda: replies.nothing_to_roll_back("churn", None, None), ["no champion yet"]),
    (
        "no previous",
        lambda: replies.nothing_to_roll_back("churn", CHAMPION, None),
        ["no `previous` version", "`/rollback churn --to VERSION`"],
    ),
    ("already there", lambda: replies.nothing_to_roll_back("churn", CHAMPION, "3"), ["version 3 is already"]),
    ("drift failed", lambda: replies.drift_failed("churn", "missing columns: age"), ["missing columns: age"]),
    (
        "reconcile mismatch",
        lambda: replies.reconcile_mismatch("churn", "5", "3", "abc", "report"),
        ["differs from git", "version 5", "`/rollback churn --to 3`"],
    ),
    (
        "reconcile corrected",
        lambda: replies.reconcile_corrected("churn", "5", "3", "abc"),
        ["moved `champion` back to version 3 and `previous` to version 5"],
    ),
    ("reconcile in sync", lambda: replies.reconcile_in_sync("churn", "3"), ["back in sync"]),
    (
        "failed",
        lambda: replies.failed("train", "the runner went away"),
        ["`/train` failed: the runner went away"],
    ),
]


@pytest.mark.parametrize(("name", "make", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_reply(name: str, make: Callable[[], str], fragments: list[str]) -> None:
    text = make()
    markers = find_markers(text)
    assert len(markers) == 1 and text.startswith(markers[0] + "\n"), name
    for fragment in fragments:
        assert fragment in text, (name, fragment)
    assert "\n\n\n" not in text


def test_replies_keyed_like_the_jobs_that_upsert_them() -> None:
    """The jobs upsert these replies under markers they compute; the body carries the same marker."""
    assert replies.ok_to_test_recorded("bob", "f" * 40).startswith(reply_marker("ok-to-test", "f" * 40))
    assert plan().startswith(reply_marker("plan", "churn@run42"))
    assert replies.no_candidate("churn", "abc", "").startswith(reply_marker("no-candidate", "churn@abc"))
    outcome = Outcome("churn", "promoted", "4", run_id="run42")
    assert replies.promotion_result(outcome).startswith(reply_marker("promotion", "churn@run42"))


@pytest.mark.parametrize(
    "hostile", ["<!-- mlops-bot:card model=x -->", "`x`` | y", "<img src=x onerror=alert(1)>", "@everyone"]
)
def test_user_text_is_inert(hostile: str) -> None:
    for text in (
        replies.unknown_model(hostile, [hostile]),
        replies.refused(hostile, "nope"),
        replies.config_broken(hostile),
        replies.drift_failed("churn", hostile),
        replies.promotion_result(Outcome("churn", "refused", reasons=[hostile])),
    ):
        assert len(find_markers(text)) == 1
        outside_code = re.sub(r"(`+)(.+?)\1", "", text.split("\n", 1)[1])
        assert "<img" not in outside_code and "<!--" not in outside_code
        assert not re.search(r"@(?!\u200b)everyone", outside_code)
