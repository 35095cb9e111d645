"""The story the demo plays, one `_stage_<name>` method per stage (run in `STAGES` order, each reading the
world through `Probes`): the pull requests, the merges and the rollback here, what happens on the served model
after them in `production`; and the human acts they need (editing params)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from bot.demo.production import Production
from bot.demo.world import MAINTAINER, MODEL, READER, REPO, Progress, feature_rows, served_config

STAGES = ("help", "train", "promote", "drift", "monitor", "retrain")


class Stages(Production):
    """The stages of the story; `Demo` supplies where it writes and how it reports progress."""

    out: Path
    progress: Progress
    summary: dict[str, Any]

    def _seed_repository(self, standin: Any) -> None:
        from bot.adapters.dvc import init_sample_project, run_git

        self.progress(
            f"creating {REPO} from templates/project (DVC pipeline, scikit-learn breast-cancer model)"
        )
        seed = self.out / "state" / "seed"
        init_sample_project(seed, remote=self.out / "state" / "dvc-remote")
        # The traffic log where the demo's service writes and the bot's checks (in fresh clones) read it.
        config = seed / ".github" / "mlops-bot.yml"
        config.write_text(served_config(config.read_text(), location=self.service.location.as_uri()))
        run_git(seed, "commit", "-qam", "Monitor the served model's traffic log", as_bot=True)
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
        self._serve_champion()
        prediction = self.service.predict(feature_rows(1))
        self.progress(f"champion is now v{v1.version if v1 else '?'}; its service answered {prediction}")

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

        # The demo's service keeps answering with v1 meanwhile: no traffic comes before the rollback puts v1 back.
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


def _markers(body: str) -> list[str]:
    from bot.core.markers import find_markers

    return find_markers(body)


def _version(v: Any) -> str | None:
    return str(v.version) if v is not None else None
