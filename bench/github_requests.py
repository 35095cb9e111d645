"""GitHub request budget: the requests the real bot makes per PR lifecycle, per command and per drift check,
counted in the GitHub stand-in's request log, on an empty repository and on one with a long history.

The whole bot runs as in `mlops-bot demo` (bot/demo.py): a GitHub App under uvicorn with its durable queue
and local executor, MLflow on SQLite, the sample DVC project on the stand-in, real webhooks and real jobs.
Each phase starts from a quiet bot (every webhook delivered, the queue empty) and ends when its effect is
on GitHub and the bot is quiet again; the requests logged in between are the phase's:

  open -> card       a PR that changes a parameter opens: train, dvc.lock commit, card and check
  push -> card       a second push to the PR: the card and check follow the new head
  /help, /train, /promote --dry-run    commands on the open PR, each until its answer is posted
  merge -> promote   squash merge: register, gate, alias, bento, Deployment success, reply
  /rollback --dry-run                  on the merged PR
  drift check (x2)   the scheduled check of the served champion's traffic (no drift); the second has nothing new

`lifecycle` is open -> card + merge -> promote. The `history` variant first opens 2,000 human issues
(some quoting the bot's markers) and, once the PR is open, 300 human comments on it; its figures are printed
against the empty repository's of the same run (ratio 1.00 = did not grow).

    .venv/bin/python bench/github_requests.py [--issues 2000] [--comments 300] [--variants empty,history]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# This file is named like the `requests` package PyGithub imports: its own folder must not shadow it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bot.demo import MAINTAINER, MODEL, REPO, Demo  # noqa: E402 - after the path fix above

GOALS = {"lifecycle": 25, "drift check #2 (nothing new)": 5}


class RequestBench(Demo):
    """The demo's machinery (stand-in, bot, sample repository) driven phase by phase, counting requests."""

    issues: int = 0
    comments: int = 0

    def run(self, stages: tuple[str, ...] = ("budget",)) -> dict[str, Any]:
        self.phases: dict[str, list[Any]] = {}
        return super().run(stages)

    def _quiet(self) -> None:
        """Every webhook delivered and every job done (the bot's own follow-ups included)."""
        time.sleep(0.5)
        for _ in range(3):  # a job's push is announced after it ends: wait for that webhook too
            self._drain()
            time.sleep(0.5)

    def _phase(self, name: str, act: Any) -> Any:
        self._quiet()
        start = len(self.standin.requests)
        began = time.monotonic()
        result = act()
        self._quiet()
        self.phases[name] = list(self.standin.requests[start:])
        self.progress(f"{name}: {len(self.phases[name])} requests in {time.monotonic() - began:.1f} s")
        return result

    def _command(self, number: int, text: str) -> None:
        """A maintainer's command, until the bot is quiet again (its answer posted, its job done)."""
        self._phase(text, lambda: self.standin.comment(REPO, number, text, author=MAINTAINER))

    def _stage_budget(self, standin: Any) -> None:
        if self.issues:
            self.progress(f"opening {self.issues} human issues")
            for n in range(self.issues):
                body = f"see <!-- mlops-bot:drift:{MODEL} -->" if n % 100 == 0 else f"issue {n}"
                standin.create_issue(REPO, title=f"human {n}", body=body, author=MAINTAINER)
            self._quiet()

        def open_pr() -> int:
            self._edit_params(standin, "tune", {"train.C": 0.5}, "C=0.5")
            number = standin.open_pull(REPO, head="tune", title="Tune", body="C=0.5", author=MAINTAINER)
            self._wait("the card", lambda: self._card(number) and self._check(self._head(number)), 300)
            return int(number)

        pr = self._phase("open -> card", open_pr)
        if self.comments:
            self.progress(f"{self.comments} human comments on #{pr}")
            self._phase(
                f"{self.comments} human comments",
                lambda: [
                    standin.comment(REPO, pr, f"looks good {n}", author=MAINTAINER)
                    for n in range(self.comments)
                ],
            )
        first = self._card(pr).body

        def push() -> None:
            self._edit_params(standin, "tune", {"train.C": 0.3}, "C=0.3")
            self._wait("the edited card", lambda: (c := self._card(pr)) and c.body != first, 300)
            self._wait("the check on the new head", lambda: self._check(self._head(pr)), 300)

        self._phase("push -> card", push)
        self._command(pr, "/help")
        self._command(pr, "/train")
        self._command(pr, "/promote --dry-run")

        def merge() -> None:
            standin.merge_pull(REPO, pr, by=MAINTAINER, method="squash")
            self._wait("the promotion", lambda: self._deployment_done(1), timeout=300)

        self._phase("merge -> promote", merge)
        self._command(pr, "/rollback --dry-run")
        # The champion served, and traffic it does not drift on before each daily check (the service logs it,
        # the check reads the log: no GitHub request); the second check finds nothing new to report.
        self._serve_champion()
        for n in (1, 2):
            self._phase(f"traffic #{n} batch", lambda n=n: self._send(f"window {n}", seed=7 + n, share=0.0))
            label = f"drift check #{n}" + (" (nothing new)" if n == 2 else "")
            self._phase(label, lambda n=n: self._scheduled_check(f"scheduled drift check #{n}"))

    def _delivery_done(self, key: str) -> bool:
        row = self.store.get(key)  # by key: with a long history the newest 1,000 rows may not hold it
        if row is not None and row.status == "failed":
            raise RuntimeError(f"job {key} failed: {row.last_error}")
        return row is not None and row.status == "done"


def template(path: str) -> str:
    """`/repos/acme/x/issues/7/comments` -> `/repos/{owner}/{repo}/issues/{n}/comments` (numbers and shas)."""
    parts = path.split("?")[0].strip("/").split("/")
    out = []
    for i, part in enumerate(parts):
        if parts[0] == "repos" and i in (1, 2):
            out.append("{owner}" if i == 1 else "{repo}")
        elif part.isdigit():
            out.append("{n}")
        elif len(part) == 40 and all(c in "0123456789abcdef" for c in part):
            out.append("{sha}")
        else:
            out.append(part)
    return "/" + "/".join(out)


def charged(requests: list[Any]) -> int:
    """Requests the installation's rate limit pays for: an authorized 304 is free (GitHub's rule), and the App's
    own JWT calls (installation tokens, `GET /app`) go to the App's limit, not the installation's."""
    return sum(1 for r in requests if r.counts_toward_rate_limit and r.actor is not None)


def _ratio(value: int, base: int) -> str:
    return f"{value / base:.2f}x" if base else "–"


def grouped(requests: list[Any]) -> Counter[str]:
    return Counter(
        f"{r.method} {template(r.path)}" + (f" -> {r.status}" if r.status >= 300 else "") for r in requests
    )


def measure(variant: str, issues: int, comments: int, progress: Any) -> dict[str, list[Any]]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-requests-{variant}-"))
    bench = RequestBench(out=out, progress=lambda m: progress(f"[{variant}] {m}"), timeout=300)
    bench.issues, bench.comments = issues, comments
    try:
        bench.run()
    except Exception as exc:  # report what was counted up to the failure, and say so
        progress(f"[{variant}] stopped early: {type(exc).__name__}: {str(exc)[:300]}")
    violations = getattr(getattr(bench, "standin", None), "violations", [])
    progress(f"[{variant}] requests outside GitHub's REST description: {len(violations)}")
    phases = dict(bench.phases)
    phases["lifecycle"] = phases.get("open -> card", []) + phases.get("merge -> promote", [])
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--issues", type=int, default=2000)
    parser.add_argument("--comments", type=int, default=300)
    parser.add_argument("--variants", default="empty,history")
    parser.add_argument("--json", type=Path, help="also write the figures and the grouped requests here")
    args = parser.parse_args()

    def progress(message: str) -> None:
        print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    load = os.getloadavg()
    results: dict[str, dict[str, list[Any]]] = {}
    for variant in args.variants.split(","):
        history = variant == "history"
        results[variant] = measure(
            variant, args.issues if history else 0, args.comments if history else 0, progress
        )
    after = os.getloadavg()

    names = [n for n in next(iter(results.values())) if not n.endswith(("human comments", "batch"))]
    variants = list(results)
    print(f"\nGitHub requests (load average {load[0]:.1f} before, {after[0]:.1f} after)")
    print(
        "each cell: all requests / those charged to the installation's rate limit (not a 304, not App JWT)\n"
    )
    header = (
        "| phase | " + " | ".join(variants) + (" | ratio (all, charged) |" if len(variants) > 1 else " |")
    )
    print(header + " goal |")
    print("|" + "---|" * header.count("|"))
    for name in names:
        cells = [(len(results[v].get(name, [])), charged(results[v].get(name, []))) for v in variants]
        ratio = ""
        if len(variants) > 1:
            (all0, ch0), (all1, ch1) = cells[0], cells[-1]
            ratio = f" {_ratio(all1, all0)}, {_ratio(ch1, ch0)} |"
        goal = f"<= {GOALS[name]}" if name in GOALS else ""
        print(f"| {name} | " + " | ".join(f"{a} / {c}" for a, c in cells) + f" |{ratio} {goal} |")
    for variant in variants:
        for name, reqs in results[variant].items():
            if name.endswith(("human comments", "batch")):
                print(f"\n{variant}: {name}: {len(reqs)} requests by the bot")
    for variant in variants:
        print(f"\nwhere the requests go ({variant}):")
        for name in names:
            print(f"  {name} ({len(results[variant].get(name, []))}):")
            for what, n in grouped(results[variant].get(name, [])).most_common():
                print(f"    {n:4d}  {what}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    v: {
                        n: {"count": len(r), "charged": charged(r), "by_route": dict(grouped(r))}
                        for n, r in phases.items()
                    }
                    for v, phases in results.items()
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
