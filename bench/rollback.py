"""`/rollback` through the bot: the comment -> the champion moved back and its Deployment `success`.

The bot side runs for real, as in bench/promote.py (stand-in GitHub over HTTP, the bot with its queue and local
executor, MLflow on SQLite), on the sample project: the PR trains and merges (v1), a second PR trains and merges
(v2, v1 keeps `previous`), then a maintainer comments `/rollback` on it (timed, `--rounds` times: each round
rolls back to the version the last one left as `previous`).

Baseline: the same registry and Deployment work done directly in this process, imports paid and clients
built: create the Deployment, move `previous` and `champion`, tag the version, set the Deployment's status.
Goal (issue 12): `/rollback` -> new champion and Deployment <= 2 s.

    .venv/bin/python bench/rollback.py [--out DIR] [--rounds N] [--cold]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bot.demo import MAINTAINER, MODEL, REPO, Demo


class RollbackBench(Demo):
    rounds = 3

    def _stage_merges(self, standin: Any) -> None:
        self.progress("merging the PR: v1")
        standin.merge_pull(REPO, self.pr, by=MAINTAINER, method="squash")
        self._wait("the first promotion", lambda: self._deployment_done(1), timeout=600)
        self.progress("a second PR trains and merges: v2")
        self._edit_params(standin, "more-iterations", {"train.C": 0.8}, "C=0.8")
        pr2 = standin.open_pull(REPO, head="more-iterations", title="C=0.8", body="C=0.8", author=MAINTAINER)
        self._wait("the second card", lambda: self._card(pr2) and self._check(self._head(pr2)), timeout=600)
        standin.merge_pull(REPO, pr2, by=MAINTAINER, method="merge")
        self._wait("the second promotion", lambda: self._deployment_done(2), timeout=600)
        self.pr2 = pr2

    def _stage_rollback(self, standin: Any) -> None:
        registry = self._registry()
        rounds = []
        for n in range(self.rounds):
            before = registry.version_by_alias(MODEL, "champion").version
            target = registry.version_by_alias(MODEL, "previous").version
            self.progress(f"/rollback {n + 1}: v{before} -> v{target}")
            time.sleep(1.05)  # GitHub's timestamps have one-second resolution: the command is newer than all
            started = time.perf_counter()
            standin.comment(REPO, self.pr2, "/rollback", author=MAINTAINER)
            count = n + 3  # the two promotions' Deployments, then one per rollback

            def rolled_back(count: int = count, target: str = target) -> bool:
                champion = registry.version_by_alias(MODEL, "champion")
                return bool(self._deployment_done(count)) and champion.version == target

            self._wait("the rollback's Deployment and champion", rolled_back, timeout=300)
            took = time.perf_counter() - started
            job = max(self._job_dirs("rollback"), key=lambda p: p.stat().st_mtime)
            spans = json.loads((job / "spans.json").read_text()) if (job / "spans.json").exists() else {}
            rounds.append({"total_s": took, "spans": spans, "from": before, "to": target})
        self.summary["rollback"] = rounds
        self.summary["baseline"] = [self._baseline() for _ in range(self.rounds)]

    def _job_dirs(self, kind: str) -> list[Path]:
        return [Path(p) for p in glob.glob(str(self.settings.work_dir / "jobs" / f"job_{kind}_*"))]

    def _baseline(self) -> dict[str, float]:
        """The rollback's own registry and Deployment work, done directly (clients built before the clock)."""
        from bot.adapters.github import GitHubFactory

        registry = self._registry()
        gh = GitHubFactory(self.settings).for_repo(REPO)
        gh.default_branch()
        champion = registry.version_by_alias(MODEL, "champion")
        target = registry.version_by_alias(MODEL, "previous")
        started = time.perf_counter()
        key = f"bench-rollback-{time.monotonic_ns()}"
        deployment = gh.create_deployment(
            "main", "production", {"model": MODEL, "version": target.version}, "bench rollback", key=key
        )
        registry.set_version_tag(MODEL, target.version, "mlops_bot.bench_rollback", key)
        registry.set_alias(MODEL, "previous", champion.version)
        registry.set_alias(MODEL, "champion", target.version)
        gh.set_deployment_status(deployment, "success", description="bench rollback")
        return {"total_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/mlops-bot-bench-rollback"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="job steps in a fresh interpreter each")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ["MLOPS_BOT_WARM_JOBS"] = "false" if args.cold else "true"
    os.environ["MLOPS_BOT_KEEP_JOB_DIRS"] = "true"  # the spans are read after each job
    shutil.rmtree(args.out, ignore_errors=True)
    load_before = os.getloadavg()[0]
    RollbackBench.rounds = args.rounds
    bench = RollbackBench(out=args.out, progress=lambda m: print(f"  {m}", flush=True), timeout=600)
    summary = bench.run(("help", "train", "merges", "rollback"))
    load_after = os.getloadavg()[0]
    rounds, baseline = summary["rollback"], summary["baseline"]
    print(f"\n{MODEL} on {platform.node()} ({platform.machine()}), {os.cpu_count()} cores, "
          f"load {load_before:.1f} -> {load_after:.1f}, {'cold' if args.cold else 'warm'} steps")  # fmt: skip
    print("| round | /rollback -> champion + Deployment (s) | same work direct (s) | spans (s) |")
    print("|---|---:|---:|---|")
    for n, (r, b) in enumerate(zip(rounds, baseline, strict=True)):
        spans = ", ".join(f"{k} {v:.2f}" for k, v in r["spans"].items())
        print(f"| {n + 1} (v{r['from']} -> v{r['to']}) | {r['total_s']:.2f} | {b['total_s']:.2f} | {spans} |")
    median = statistics.median(r["total_s"] for r in rounds)
    direct = statistics.median(b["total_s"] for b in baseline)
    print(f"median {median:.2f} s (goal <= 2 s), direct {direct:.2f} s, ratio {median / direct:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"rollback": rounds, "baseline": baseline}, indent=2))


if __name__ == "__main__":
    main()
