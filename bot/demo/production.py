"""The story after the first promotion, played on the served model: the champion's bento answers traffic
(some of it shifted), labels come back later through `POST /feedback` (some late, a few for ids never served),
the scheduled check reads what the service logged (`drift.current: served`), the issue and the retrain PR
follow, the retrain merges, and the new champion's service answers the traffic after it.

No production file is written here: every row a check reads was answered and logged by the service.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from bot.core import keys
from bot.core.jobs import DriftRequest, to_params
from bot.demo.probes import Probes
from bot.demo.traffic import Service, Window, wrong_labels
from bot.demo.world import MAINTAINER, MODEL, REPO, SHIFTED, WRONG_UNIT, DemoError, Progress, draw

ROWS_PER_WINDOW = 300
SHIFTED_SHARE = 0.8  # of a shifted window's rows
LABELLED = 200  # rows of a window whose diagnosis comes back
WRONG_SHARE = 0.3  # of the labels that come back: the world moved, the champion's answers are now often wrong
UNKNOWN_IDS = 5  # labels for request ids the service never answered (a client's typo)
_SHIFT_TEXT = ", ".join(f"{c} +{s:g} std" for c, s in SHIFTED.items())
_UNIT_TEXT = ", ".join(f"{c} x{f:g}" for c, f in WRONG_UNIT.items())


class Production(Probes):
    """The stages `drift`, `monitor` and `retrain`; `Demo` supplies the service, the store and the summary."""

    progress: Progress
    summary: dict[str, Any]
    service: Service
    windows: list[Window]
    logged_at_last_check: int
    bare: Path
    installation_id: int

    def _stage_drift(self, standin: Any) -> None:
        self._serve_champion()
        self.summary["traffic"] = {"windows": []}
        first = self._send("window 1", seed=21, share=SHIFTED_SHARE)
        checks = [self._check_window("scheduled check #1", first)]
        self._labels_come_back(first, seed=31, late=True)
        second = self._send("window 2", seed=22, share=SHIFTED_SHARE)
        self._labels_come_back(second, seed=32, unknown=UNKNOWN_IDS)
        checks.append(self._check_window("scheduled check #2", second))
        issue = self._wait("the monitoring issue", self._drift_issue)
        retrain = self._wait("the retrain pull request", self._retrain_pr)
        card = self._wait("the retrain PR's model card", lambda: self._card(retrain), timeout=240)
        self.summary["drift"] = {
            "shifted_columns": list(SHIFTED),
            "checks": checks,
            "issue_number": issue.number,
            "drifted_columns_in_issue": [c for c in SHIFTED if c in (issue.body or "")],
            "retrain_pr": retrain,
            "retrain_card_comment_id": card.id,
            "retrain_on_production": self._retrain_on_production(retrain),
        }

    def _stage_monitor(self, standin: Any) -> None:
        third = self._send("window 3", seed=23, share=SHIFTED_SHARE)
        self._labels_come_back(third, seed=33)
        check = self._check_window("scheduled check #3", third)
        self.summary["monitoring"] = {"performance": [check]}

    def _stage_retrain(self, standin: Any) -> None:
        retrain = self._wait("the retrain pull request", self._retrain_pr)
        self._wait(
            "the retrain PR's card and check",
            lambda: self._card(retrain) and self._check(self._head(retrain)),
        )
        deployments = len(standin.deployments(REPO))
        self.progress(f"alice merges the retrain PR #{retrain}: the bot promotes the retrained model")
        standin.merge_pull(REPO, retrain, by=MAINTAINER, method="merge")
        self._wait(
            "the retrained model's promotion", lambda: self._deployment_done(deployments + 1), timeout=300
        )
        version = self._serve_champion()
        fourth = self._send(
            "window 4", seed=24, share=0.35, scale=WRONG_UNIT, moved=f"{_UNIT_TEXT} (wrong unit)"
        )
        answered = self.service.answered_by(fourth.request_ids)
        self.progress(f"the traffic log says who answered window 4: {_versions(answered)}")
        check = self._check_window("scheduled check #4", fourth)
        issue = self._drift_issue()
        head = self._head_of_main()
        run = next((r for r in self.standin.check_runs(REPO, head) if "drift" in r.name), None)
        self.summary["retrain"] = {
            "merged_pr": retrain,
            "champion": version,
            "answered_by": answered,
            "check": check,
            "quality": {
                "issue": issue.number,
                "title": issue.title,
                "labels": list(issue.labels),
                "check_run_conclusion": run.conclusion if run else None,
            },
        }

    # --- the service and its clients -----------------------------------------------------------------

    def _serve_champion(self) -> str:
        """Serve the champion's bento unless it is already what answers; its version."""
        champion = self._registry().version_by_alias(MODEL, "champion")
        if champion is None:
            raise DemoError("there is no champion to serve")
        if self.service.version != str(champion.version):
            started = time.monotonic()
            tag = self.service.serve(champion)
            self.progress(
                f"serving the champion, v{champion.version} (bento {tag}), on loopback "
                f"({time.monotonic() - started:.0f} s to start); it logs every answered row"
            )
        return str(champion.version)

    def _send(
        self,
        name: str,
        *,
        seed: int,
        share: float,
        scale: dict[str, float] | None = None,
        moved: str = _SHIFT_TEXT,
    ) -> Window:
        batch = draw(ROWS_PER_WINDOW, seed=seed, share=share, shift=None if scale else SHIFTED, scale=scale)
        before = self.service.logged_rows()
        window = self.service.send(name, batch, moved=moved)
        logged = self.service.wait_logged(before + window.rows)
        self.windows.append(window)
        self.summary.setdefault("traffic", {"windows": []})["windows"].append(window.to_summary())
        self.progress(
            f"{name}: {window.requests} requests ({window.rows} rows, {window.moved_rows} of them with "
            f"{moved}) answered by v{window.version}; the traffic log holds {logged} rows"
        )
        return window

    def _labels_come_back(self, window: Window, *, seed: int, late: bool = False, unknown: int = 0) -> None:
        """The diagnoses of `LABELLED` of the window's rows, `WRONG_SHARE` of them contradicting the champion's
        world, and `unknown` labels for ids no one served."""
        ids = window.request_ids[:LABELLED]
        labels = wrong_labels(window.truth[:LABELLED], WRONG_SHARE, seed)
        wrong = sum(a != b for a, b in zip(labels, window.truth[:LABELLED], strict=True))
        strays = [f"typo-{seed}-{n}" for n in range(unknown)]
        stored = self.service.feedback(ids + strays, labels + [1] * unknown)
        # How often the service's answers agree with the labels sent: what a check scoring them must find.
        agree = sum(int(a == b) for a, b in zip(window.answers[:LABELLED], labels, strict=True))
        window.labels = {
            "sent": len(ids),
            "wrong": wrong,
            "unknown_ids": unknown,
            "late": len(ids) if late else 0,
            "served_accuracy": round(agree / len(ids), 6),
        }
        self.summary["traffic"]["windows"][self.windows.index(window)]["labels"] = dict(window.labels)
        when = "after its check (late)" if late else "before the next check"
        self.progress(
            f"labels for {window.name} come back {when}: POST /feedback with {len(ids)} diagnoses "
            f"({wrong} contradict the champion's world)"
            + (f" and {unknown} for ids never served" if unknown else "")
            + f"; the service stored {stored}"
        )

    # --- the scheduled check, as a reader sees it ----------------------------------------------------

    def _check_window(self, label: str, window: Window) -> dict[str, Any]:
        """Run the scheduled check and read what it posted: the rows it read, the drift share, the labels."""
        from bot.core.drift import decode_metadata
        from bot.core.markers import reply_marker

        logged = self.service.logged_rows()
        new_rows = logged - self.logged_at_last_check
        self._scheduled_check(label)
        self.logged_at_last_check = logged
        issue = self._wait("the monitoring issue", self._drift_issue)
        meta = decode_metadata(issue.body or "")
        check_id = str(meta.get("check") or "")
        marker = reply_marker("monitor-check", f"{MODEL}@{check_id}")
        comment = self._wait(
            "the check's comment", lambda: self._bot_comment_containing(issue.number, marker)
        )
        record = next((r for r in self.store.checks(REPO, MODEL) if r.check_id == check_id), None)
        statuses = (meta.get("log") or [{}])[-1].get("statuses") or {}
        read = _count(r"current ([\d,]+) rows", comment.body)
        found = {
            "check": label.rsplit("#", 1)[-1],
            "window": window.name,
            "issue": issue.number,
            "retrain_pr": meta.get("retrain_pr"),  # the open retrain PR, as the issue names it
            "title": issue.title,
            "statuses": statuses,
            "rows_logged": new_rows,  # what the service logged since the previous check
            "rows_read": read,  # what the check says it read
            "labels": _label_counts(comment.body),
            "drift_share": record.drift_share if record else None,
            "drifted_columns": list(record.drifted_columns) if record else [],
            "performance": dict(record.performance) if record else {},
            "performance_state": meta.get("performance"),
            "champion_version": record.champion_version if record else None,
            "accuracy_in_issue": "accuracy" in (issue.body or ""),
        }
        self.progress(_check_line(label, found))
        return found

    def _scheduled_check(self, label: str) -> None:
        """What the daily schedule does: one drift/monitoring job, waited for."""
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
        self._wait(label, lambda: self._delivery_done(key), timeout=240)

    def _retrain_on_production(self, retrain: int) -> dict[str, Any]:
        """The retrain PR's card: both models scored on the served rows whose labels came back."""
        heading = "#### On production data"
        card = self._wait(
            "the retrain PR's card scored on the labelled served rows",
            lambda: (c := self._card(retrain)) is not None and heading in c.body and c,
            timeout=300,
        )
        lines = card.body.split("\n")
        start = next(i for i, line in enumerate(lines) if line.startswith(heading))
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#### ")), len(lines))
        rows = [line for line in lines[start:end] if line.startswith("| `")]  # that table's metric rows
        self.progress(f"the retrain PR's card: {lines[start].removeprefix('#### ')}")
        return {"pr": retrain, "heading": lines[start], "rows": rows}

    def _head_of_main(self) -> str:
        import subprocess

        done = subprocess.run(
            ["git", "--git-dir", str(self.bare), "rev-parse", "main"],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()


def _count(pattern: str, text: str) -> int | None:
    found = re.search(pattern, text)
    return int(found.group(1).replace(",", "")) if found else None


def _label_counts(text: str) -> dict[str, int | None]:
    """The label sentence of the check's performance line (`bot.core.monitoring.served.label_note`)."""
    return {
        "joined": _count(r"(\d+) of [\d,]+ served row\(s\) labelled", text),
        "late": _count(r"(\d+) late label\(s\)", text) or 0,
        "unknown": _count(r"(\d+) label\(s\) for unknown request ids", text) or 0,
        "duplicate": _count(r"(\d+) duplicate label\(s\)", text) or 0,
    }


def _check_line(label: str, found: dict[str, Any]) -> str:
    share = found["drift_share"]
    drift = (
        f"drift share {share:.0%} ({', '.join(found['drifted_columns']) or 'no column'})"
        if share is not None
        else "drift not judged"
    )
    labels = found["labels"]
    performance = found["performance"]
    scored = ", ".join(f"{k} {v:.3f}" for k, v in performance.items()) or "not scored"
    statuses = found["statuses"]
    counts = f"{labels['joined'] or 0} labels joined, {labels['late']} late, {labels['unknown']} unknown ids"
    retrain = f", retrain PR #{found['retrain_pr']}" if found["retrain_pr"] else ""
    return (
        f"{label}: read {found['rows_read']} served rows (the log got {found['rows_logged']} since the last "
        f"check); {drift}; {counts}; performance {statuses.get('performance')} ({scored}); quality "
        f"{statuses.get('quality')}; issue #{found['issue']}{retrain}"
    )


def _versions(answered: dict[str, int]) -> str:
    return ", ".join(f"{rows} rows by v{version}" for version, rows in answered.items()) or "nothing"
