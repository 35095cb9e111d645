"""The story the demo plays, one `_stage_<name>` method per stage (run in `STAGES` order, each reading the
world through `Probes`), and the human acts it needs: editing params, committing production data, the
scheduled check."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.core import keys
from bot.core.jobs import DriftRequest, to_params
from bot.demo.probes import Probes
from bot.demo.world import MAINTAINER, MODEL, READER, REPO, Progress, production_csv

STAGES = ("help", "train", "promote", "drift", "monitor")


class Stages(Probes):
    """The stages of the story; `Demo` supplies where it writes and how it reports progress."""

    out: Path
    progress: Progress
    summary: dict[str, Any]

    def _seed_repository(self, standin: Any) -> None:
        from bot.adapters.dvc import init_sample_project

        self.progress(
            f"creating {REPO} from templates/project (DVC pipeline, scikit-learn breast-cancer model)"
        )
        seed = self.out / "state" / "seed"
        init_sample_project(seed, remote=self.out / "state" / "dvc-remote")
        standin.create_user(MAINTAINER)
        standin.create_user(READER)
        self.bare = standin.create_repo(REPO, source=seed)
        standin.set_permission(REPO, MAINTAINER, "admin")
        standin.set_permission(REPO, READER, "read")
        self.installation_id = standin.install_app(REPO)

    def _stage_help(self, standin: Any) -> None:
        self.progress("alice opens a pull request that changes a training parameter")
        self._edit_params(standin, "tune-regularisation", {"train.C": 0.5}, "Stronger regularisation (C=0.5)")
        pr = standin.open_pull(
            REPO,
            head="tune-regularisation",
            title="Stronger regularisation",
            body="Lower `C` to regularise more.",
            author=MAINTAINER,
        )
        self.pr = pr
        self.summary["pull_request"] = pr
        self.progress("alice comments /help")
        standin.comment(REPO, pr, "/help", author=MAINTAINER)
        help_reply = self._wait(
            "the /help answer",
            lambda: self._bot_comment(pr, "kind=help") or self._bot_comment_containing(pr, "| Command"),
        )
        self.progress("bob (read-only) tries /train: refused with a reason")
        standin.comment(REPO, pr, "/train", author=READER)
        refusal = self._wait("the refusal for bob", lambda: self._bot_comment_containing(pr, "@bob"))
        self.summary["help"] = {"comment_id": help_reply.id, "refusal_comment_id": refusal.id}

    def _stage_train(self, standin: Any) -> None:
        pr = self.pr
        self.progress("the bot trains the PR head (dvc repro -> MLflow run) and posts the model card")
        card = self._wait("the model card", lambda: self._card(pr))
        check = self._wait("the check run", lambda: self._check(self._head(pr)))
        first_body = card.body
        self.progress(f"card posted (comment {card.id}); check run {check.conclusion}")
        self.progress("alice pushes a second change: the same card is edited, not a new comment")
        self._edit_params(standin, "tune-regularisation", {"train.C": 0.3}, "C=0.3 after review")
        # The card names the PR head when it is posted, which may already be the bot's dvc.lock commit on top
        # of this push: recognise the new card by the new parameter value instead.
        edited = self._wait(
            "the edited card",
            lambda: (c := self._card(pr)) and c.body != first_body and "| 0.3 |" in c.body and c,
        )
        check = self._wait("the check run on the new head", lambda: self._check(self._head(pr)))
        run_id = self._run_id_for(self._head(pr))
        self.summary["train"] = {
            "mlflow_run_id": run_id,
            "card_comment_id": edited.id,
            "card_edited_in_place": edited.id == card.id,
            "check_run_conclusion": check.conclusion,
            "bot_comments_on_pr": len(self._bot_comments(pr)),
            "card_markers": [m for m in _markers(edited.body)],
        }

    def _stage_promote(self, standin: Any) -> None:
        registry = self._registry()
        before = registry.version_by_alias(MODEL, "champion")
        self.progress("alice merges (squash): the bot registers, gates, aliases, builds a bento, deploys")
        standin.merge_pull(REPO, self.pr, by=MAINTAINER, method="squash")
        first = self._wait("the first promotion", lambda: self._deployment_done(1), timeout=300)
        first_states = [st.state for st in first.statuses]  # a later deployment makes this one inactive
        v1 = registry.version_by_alias(MODEL, "champion")
        prediction = self._predict_with_bento(v1)
        self.progress(f"champion is now v{v1.version if v1 else '?'}; its bento answered {prediction}")

        self.progress(
            "a second pull request improves the model and merges: champion moves, previous keeps v1"
        )
        self._edit_params(standin, "more-iterations", {"train.C": 0.8}, "C=0.8")
        pr2 = standin.open_pull(
            REPO, head="more-iterations", title="Relax regularisation", body="C=0.8", author=MAINTAINER
        )
        self._wait("the second card", lambda: self._card(pr2) and self._check(self._head(pr2)))
        standin.merge_pull(REPO, pr2, by=MAINTAINER, method="merge")
        second = self._wait("the second promotion", lambda: self._deployment_done(2), timeout=300)
        v2 = registry.version_by_alias(MODEL, "champion")
        aliases_after = {
            "champion": v2.version if v2 else None,
            "previous": _version(registry.version_by_alias(MODEL, "previous")),
        }

        self.progress("alice comments /rollback on the second PR: champion goes back to v1")
        standin.comment(REPO, pr2, "/rollback", author=MAINTAINER)
        third = self._wait("the rollback deployment", lambda: self._deployment_done(3), timeout=120)
        reply = self._wait("the rollback reply", lambda: self._bot_comment_containing(pr2, "roll"))
        self.summary["promote"] = {
            "champion_before": _version(before),
            "version": v1.version if v1 else None,
            "bento_tag": (v1.tags.get("mlops_bot.bento_tag") if v1 else None),
            "bento_prediction": prediction,
            "deployment_id": first.id,
            "deployment_status": first_states[-1],
            "deployment_statuses": first_states,
            "second_pull_request": pr2,
            "aliases_after_second_merge": aliases_after,
            "second_deployment_id": second.id,
            "rollback": {
                "champion": _version(registry.version_by_alias(MODEL, "champion")),
                "previous": _version(registry.version_by_alias(MODEL, "previous")),
                "deployment_id": third.id,
                "deployment_status": third.statuses[-1].state,
                "reply_comment_id": reply.id,
            },
        }

    def _stage_drift(self, standin: Any) -> None:
        self.progress("production data arrives with two columns shifted by two standard deviations")
        shifted = ["mean radius", "worst texture"]
        standin.commit(
            REPO,
            "main",
            {"data/production.csv": production_csv(shifted)},
            "Production batch 2024-02",
            author=MAINTAINER,
        )
        checks = []
        for n in (1, 2):
            self._scheduled_check(f"scheduled drift check #{n}")
            issue = self._drift_issue()
            checks.append(
                {"check": n, "issue": issue.number if issue else None, "retrain_pr": self._retrain_pr()}
            )
        issue = self._wait("the drift issue", self._drift_issue)
        retrain = self._wait("the retrain pull request", self._retrain_pr)
        card = self._wait("the retrain PR's model card", lambda: self._card(retrain), timeout=240)
        self.summary["drift"] = {
            "shifted_columns": shifted,
            "checks": checks,
            "issue_number": issue.number,
            "drifted_columns_in_issue": [c for c in shifted if c in (issue.body or "")],
            "retrain_pr": retrain,
            "retrain_card_comment_id": card.id,
        }

    def _stage_monitor(self, standin: Any) -> None:
        from bot.core.drift import decode_metadata

        self.progress("labelled production data arrives: 30% of its labels contradict the champion")
        batch = self._production("--labels", "--flip", "0.3", "--rows", "400", "--seed", "11")
        standin.commit(
            REPO, "main", {"data/production.csv": batch}, "Labelled batch 2024-03", author=MAINTAINER
        )
        performance = []
        for n in (1, 2):
            self._scheduled_check(f"scheduled check #{n} with labels")
            issue = self._drift_issue()
            meta = decode_metadata(issue.body or "")
            performance.append(
                {
                    "check": n,
                    "issue": issue.number,
                    "retrain_pr": self._retrain_pr(),
                    "statuses": (meta.get("log") or [{}])[-1].get("statuses"),
                    "performance": meta.get("performance"),
                    "accuracy_in_issue": "accuracy" in (issue.body or ""),
                }
            )
        on_production = self._retrain_on_production()
        self.progress("a batch arrives with text in a numeric column: a schema break, reported at once")
        broken = self._production("--break", "mean radius", "--rows", "400", "--seed", "12")
        head = standin.commit(
            REPO, "main", {"data/production.csv": broken}, "Batch 2024-04", author=MAINTAINER
        )
        self._scheduled_check("scheduled check of the broken batch")
        issue = self._drift_issue()
        meta = decode_metadata(issue.body or "")
        check = next((r for r in standin.check_runs(REPO, head) if "drift" in r.name), None)
        self.summary["monitoring"] = {
            "performance": performance,
            "retrain_on_production": on_production,
            "quality": {
                "issue": issue.number,
                "title": issue.title,
                "labels": list(issue.labels),
                "statuses": (meta.get("log") or [{}])[-1].get("statuses"),
                "check_run_conclusion": check.conclusion if check else None,
            },
        }

    def _retrain_on_production(self) -> dict[str, Any]:
        """The retrain PR's card, trained again once the labels came: both models on those labelled rows."""
        heading = "#### On production data"
        retrain = self._wait("the retrain pull request", self._retrain_pr)
        card = self._wait(
            "the retrain PR's card scored on the labelled production rows",
            lambda: (c := self._card(retrain)) is not None and heading in c.body and c,
            timeout=300,
        )
        lines = card.body.split("\n")
        start = next(i for i, line in enumerate(lines) if line.startswith(heading))
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#### ")), len(lines))
        rows = [line for line in lines[start:end] if line.startswith("| `")]  # that table's metric rows
        self.progress(f"the retrain PR's card: {lines[start].removeprefix('#### ')}")
        return {"pr": retrain, "heading": lines[start], "rows": rows}

    def _production(self, *args: str) -> str:
        """A production batch made by the sample project's own tool (templates/project/src/make_production.py)."""
        from bot.resources import template_path

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "production.csv"
            tool = template_path("project", "src", "make_production.py")
            subprocess.run(
                [sys.executable, str(tool), *args, "--out", str(out)], check=True, capture_output=True
            )
            return out.read_text()

    def _scheduled_check(self, label: str) -> None:
        """What the daily schedule does: one drift/monitoring job, waited for."""
        self.progress(label)
        key = keys.job_row("drift", f"schedule-{time.time_ns()}")
        self.store.enqueue(
            key,
            "mlops-bot",
            "drift",
            {
                "repository": {"full_name": REPO},
                "installation": {"id": self.installation_id},
                "sender": {"login": "schedule", "type": "Bot"},
                "params": to_params(DriftRequest(model=MODEL)),
            },
        )
        self._wait(label, _bind(self._delivery_done, key), timeout=240)

    # --- acting as a human -------------------------------------------------------------------------

    def _git_show(self, ref: str, path: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.bare), "show", f"{ref}:{path}"], capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else None

    def _edit_params(self, standin: Any, branch: str, updates: dict[str, Any], message: str) -> str:
        from bot.core.yaml_edit import set_keys

        exists = self._git_show(branch, "params.yaml") is not None
        text = self._git_show(branch if exists else "main", "params.yaml") or ""
        return str(
            standin.commit(
                REPO,
                branch,
                {"params.yaml": set_keys(text, updates)},
                message,
                author=MAINTAINER,
                base=None if exists else "main",
            )
        )


def _bind(probe: Callable[[str], Any], key: str) -> Callable[[], Any]:
    return lambda: probe(key)


def _markers(body: str) -> list[str]:
    from bot.core.markers import find_markers

    return find_markers(body)


def _version(v: Any) -> str | None:
    return str(v.version) if v is not None else None
