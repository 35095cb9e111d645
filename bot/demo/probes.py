"""Reading GitHub, MLflow and the bot's queue back: what the demo waits for, and how long."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.demo.world import MODEL, REPO, DemoError


class Probes:
    """What a stage looks at; `Demo.run` sets the stand-in, the store and the settings."""

    standin: Any
    store: Any
    settings: Any
    timeout: float

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
