"""`mlops-bot demo`: the whole loop on one machine, against the GitHub stand-in, over real HTTP.

A sample repository (a DVC pipeline training scikit-learn's breast-cancer model) lives on a local GitHub
stand-in; the bot runs as a GitHub App under uvicorn with its durable queue and local executor; MLflow uses a
SQLite store. The demo plays the humans: it opens a pull request, comments, pushes, merges, and lets the
scheduled drift check run. Everything the bot does is real: webhooks, training, cards, promotion, BentoML,
Deployments, the drift issue and the retrain pull request.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = "acme/breast-cancer"
MAINTAINER = "alice"
READER = "bob"
MODEL = "breast-cancer"
APP_ID = 4242

Progress = Callable[[str], None]


class DemoError(Exception):
    """A step of the demo did not happen in time; the message says which and where to look."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BotServer:
    """The bot under uvicorn in a thread, with its in-process worker."""

    app: Any
    port: int
    _server: Any = None
    _thread: threading.Thread | None = None

    def start(self) -> str:
        import uvicorn

        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="bot-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not getattr(self._server, "started", False):
            if time.monotonic() > deadline:
                raise DemoError("the bot did not start listening within 15 s")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


@dataclass
class Demo:
    out: Path
    progress: Progress
    timeout: float = 240.0
    summary: dict[str, Any] = field(default_factory=dict)

    def run(
        self, stages: tuple[str, ...] = ("help", "train", "promote", "drift", "monitor")
    ) -> dict[str, Any]:
        from bot.adapters.store import Store
        from bot.app import create_app
        from bot.handlers import build_handler
        from bot.settings import Settings
        from bot.standin import StandIn
        from bot.standin.testing import app_key_pair

        state = self.out / "state"
        if state.exists():
            shutil.rmtree(state)
        state.mkdir(parents=True)
        secret = secrets.token_hex(16)
        bot_port = free_port()
        private_pem, public_pem = app_key_pair()

        self.progress("starting the GitHub stand-in")
        standin = StandIn(
            state / "github",
            webhook_url=f"http://127.0.0.1:{bot_port}/webhook",
            webhook_secret=secret,
            strict=True,
        )
        base_url = standin.start()
        self.standin = standin
        try:
            standin.register_app(APP_ID, public_pem)
            settings = Settings(
                webhook_secret=secret,
                database_url=f"sqlite:///{state / 'bot.db'}",
                github_base_url=base_url,
                app_id=APP_ID,
                private_key=private_pem,
                mlflow_tracking_uri=f"sqlite:///{state / 'mlflow.db'}",
                work_dir=state / "work",
                executor="local",
                retry_base_seconds=0.5,
                github_throttle=False,
            )
            self.settings = settings
            self.store = Store(settings.database_url)
            app = create_app(
                settings, handle=build_handler(settings, self.store), store=self.store, start_worker=True
            )
            self.progress("starting the bot (GitHub App, durable queue, local executor)")
            bot = BotServer(app, bot_port)
            bot_url = bot.start()
            self.summary.update({"github_stand_in": base_url, "bot": bot_url, "repository": REPO})
            try:
                self._seed_repository(standin)
                for stage in stages:
                    getattr(self, f"_stage_{stage}")(standin)
            finally:
                self._drain()
                self.summary["deliveries"] = self._deliveries()
                self._write_outputs(standin)
                bot.stop()
        finally:
            standin.stop()
        return self.summary

    # --- the story ---------------------------------------------------------------------------------

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
            {"data/production.csv": _production_csv(shifted)},
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
            "quality": {
                "issue": issue.number,
                "title": issue.title,
                "labels": list(issue.labels),
                "statuses": (meta.get("log") or [{}])[-1].get("statuses"),
                "check_run_conclusion": check.conclusion if check else None,
            },
        }

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
        key = f"job:drift:schedule-{time.time_ns()}"
        self.store.enqueue(
            key,
            "mlops-bot",
            "drift",
            {
                "repository": {"full_name": REPO},
                "installation": {"id": self.installation_id},
                "sender": {"login": "schedule", "type": "Bot"},
                "params": {"model": MODEL},
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

    # --- reading GitHub back -----------------------------------------------------------------------

    def _bot_comments(self, number: int) -> list[Any]:
        return [c for c in self.standin.comments(REPO, number) if c.user.endswith("[bot]")]

    def _bot_comment(self, number: int, fragment: str) -> Any:
        return next(
            (c for c in self._bot_comments(number) if fragment in c.body and "<!-- mlops-bot:" in c.body),
            None,
        )

    def _bot_comment_containing(self, number: int, text: str) -> Any:
        return next((c for c in self._bot_comments(number) if text in c.body), None)

    def _card(self, number: int) -> Any:
        from bot.core.markers import card_marker

        return next((c for c in self._bot_comments(number) if card_marker(MODEL) in c.body), None)

    def _head(self, number: int) -> str:
        return str(self.standin.pull(REPO, number).head_sha)

    def _check(self, sha: str) -> Any:
        return next(
            (
                r
                for r in self.standin.check_runs(REPO, sha)
                if r.name.endswith(MODEL) and r.status == "completed"
            ),
            None,
        )

    def _registry(self) -> Any:
        if not hasattr(self, "_registry_cache"):
            from bot.adapters.mlflow import MlflowRegistry

            self._registry_cache = MlflowRegistry(self.settings.mlflow_tracking_uri)
        return self._registry_cache

    def _run_id_for(self, sha: str) -> str | None:
        runs = self._registry().find_runs(MODEL, {"mlops_bot.head_sha": sha})
        if not runs:
            runs = self._registry().find_runs(MODEL, {})
        return runs[0].run_id if runs else None

    def _deployment_done(self, count: int) -> Any:
        deployments = sorted(self.standin.deployments(REPO), key=lambda d: d.id)
        if len(deployments) < count:
            return None
        latest = deployments[count - 1]
        states = [s.state for s in latest.statuses]
        if "failure" in states or "error" in states:
            raise DemoError(f"deployment {latest.id} failed: {latest.statuses[-1].description}")
        return latest if "success" in states else None

    def _predict_with_bento(self, version: Any) -> Any:
        if version is None or not version.tags.get("mlops_bot.bento_tag"):
            return None
        import httpx

        from bot.adapters.bentoml import serve

        row = _feature_rows(1)
        with serve(version.tags["mlops_bot.bento_tag"], port=free_port()) as url:
            answer = httpx.post(f"{url}/predict", json={"rows": row}, timeout=30)
            answer.raise_for_status()
            return answer.json()

    def _drift_issue(self) -> Any:
        from bot.core.markers import drift_marker

        return next((i for i in self.standin.issues(REPO) if drift_marker(MODEL) in (i.body or "")), None)

    def _retrain_pr(self) -> int | None:
        pulls = [p for p in self.standin.pulls(REPO) if p.head_ref == f"mlops-bot/retrain/{MODEL}"]
        return pulls[0].number if pulls else None

    def _delivery_done(self, key: str) -> bool:
        row = next((r for r in self.store.list(limit=1000) if r.id == key), None)
        if row is not None and row.status == "failed":
            raise DemoError(f"job {key} failed: {row.last_error}")
        return row is not None and row.status == "done"

    def _deliveries(self) -> list[dict[str, Any]]:
        return [
            {"id": r.id, "event": r.event, "action": r.action, "status": r.status, "attempts": r.attempts}
            for r in self.store.list(limit=1000)
        ]

    def _drain(self, timeout: float = 180.0) -> None:
        """Let the last webhooks arrive and every queued job finish (e.g. the no-op retrain after a lock commit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.standin.wait_for_deliveries(timeout=10)
            if self.store.queue_depth() == 0:
                return
            time.sleep(0.25)

    def _wait(self, what: str, probe: Callable[[], Any], timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            failed = [r for r in self.store.list(limit=1000) if r.status == "failed"]
            if failed:
                raise DemoError(f"waiting for {what}: job {failed[0].id} failed: {failed[0].last_error}")
            time.sleep(0.25)
        raise DemoError(
            f"waited {timeout or self.timeout:.0f} s for {what}; see `mlops-bot deliveries` "
            f"with MLOPS_BOT_DATABASE_URL={self.settings.database_url}"
        )

    # --- what the reader gets ----------------------------------------------------------------------

    def _write_outputs(self, standin: Any) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=2, default=str) + "\n")
        (self.out / "transcript.md").write_text(render_transcript(standin, REPO))


def render_transcript(standin: Any, repo: str) -> str:
    """Every pull request and issue as a reader would see its conversation on GitHub."""
    lines = [f"# {repo}: what happened on GitHub", ""]
    threads = sorted(standin.repo(repo).issues.values(), key=lambda i: i.number)
    for issue in threads:
        kind = "Pull request" if issue.is_pull else "Issue"
        lines += [
            f"## {kind} #{issue.number}: {issue.title} ({issue.state})",
            "",
            f"*opened by @{issue.user}*",
            "",
            _quote(issue.body or ""),
            "",
        ]
        for comment in standin.comments(repo, issue.number):
            lines += [f"### @{comment.user} commented", "", comment.body, ""]
        if issue.is_pull:
            pull = standin.pull(repo, issue.number)
            for run in standin.check_runs(repo, pull.head_sha):
                lines.append(
                    f"- Check run **{run.name}** on `{pull.head_sha[:7]}`: {run.conclusion or run.status}"
                )
            lines.append("")
    deployments = sorted(standin.deployments(repo), key=lambda d: d.id)
    if deployments:
        lines += ["## Deployments", ""]
        for d in deployments:
            states = " -> ".join(s.state for s in d.statuses)
            lines.append(
                f"- #{d.id} to `{d.environment}` at `{d.sha[:7]}`: {json.dumps(d.payload)} ({states})"
            )
    return "\n".join(lines) + "\n"


def _bind(probe: Callable[[str], Any], key: str) -> Callable[[], Any]:
    return lambda: probe(key)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines()) or "> (no description)"


def _markers(body: str) -> list[str]:
    from bot.core.markers import find_markers

    return find_markers(body)


def _version(v: Any) -> str | None:
    return str(v.version) if v is not None else None


def _feature_rows(n: int) -> list[list[float]]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer().data
    return [[float(x) for x in row] for row in data[:n]]


def _production_csv(shifted: list[str], rows: int = 400, seed: int = 7) -> str:
    """Production rows drawn from the same population, with `shifted` columns moved by 2 std."""
    from sklearn.datasets import load_breast_cancer

    features = load_breast_cancer(as_frame=True).data
    sample = features.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    for column in shifted:
        sample[column] += 2 * features[column].std()
    return str(sample.to_csv(index=False))


def run_demo(out: Path, progress: Progress, stages: tuple[str, ...] | None = None) -> dict[str, Any]:
    demo = Demo(out=out.resolve(), progress=progress)
    return demo.run(stages or ("help", "train", "promote", "drift", "monitor"))
