"""The loop through the bot, push -> card and merge -> Deployment, with job steps warm and cold.

The bot side runs for real (stand-in GitHub over HTTP, the bot with its queue and local executor, MLflow on
SQLite, `bentoml build`), on the sample project, after the PR has trained once (not timed). Two variants run
in the same invocation: `warm` (the default: job steps forked from the pre-imported warm runner,
bot/adapters/warm_runner.py) and `cold` (MLOPS_BOT_WARM_JOBS=false: a fresh interpreter per step).

* PR opened -> first card: from the pull request's creation (as this process sees it) until its first card is
  up; the bot's first job on the repository, so it includes cloning it and pulling its data. Baseline: a `dvc
  repro` of a change of the same kind, timed directly in a clone (the goal: <= repro + 3 s).
* push -> card: a parameter change pushed to the PR, until the card shows the new value. Baseline: the
  `dvc repro` of the same change, timed directly in a clone (the goal: <= repro + 3 s).
* merge -> Deployment success. Baseline: the same registry work (register the run, move an alias) and the
  same `bentoml build`, done directly in this process with the imports already paid (the goal: <= 1.3x).

The split comes from the executor's spans (clone, each step: spans.json in the kept job folder) and the
promote job's own timings (registry, bento build, GitHub calls).

    .venv/bin/python bench/promote.py [--out DIR] [--variants warm,cold]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bot.core.yaml_edit import set_keys
from bot.demo import MODEL, REPO, Demo


class LoopBench(Demo):
    def _stage_help(self, standin: Any) -> None:
        # The MLflow store exists before the first PR, as in any deployment: its tables are not a PR's cost.
        self._registry().versions(MODEL)
        # The first card is timed by a thread of its own: the demo answers /help and a refusal meanwhile.
        threading.Thread(target=self._time_first_card, daemon=True).start()
        super()._stage_help(standin)

    def _time_first_card(self) -> None:
        while getattr(self, "pr", None) is None:
            time.sleep(0.005)
        opened = time.perf_counter()
        head = self._head(self.pr)
        deadline = opened + 600
        while self._card(self.pr) is None and time.perf_counter() < deadline:
            time.sleep(0.02)
        self.summary["open"] = {"total_s": time.perf_counter() - opened, "head": head}

    def _stage_bench(self, standin: Any) -> None:
        pr = self.pr
        self.progress("pushing C=0.2: timing push -> card")
        before = {p.name for p in self._job_dirs("train")}
        started = time.perf_counter()
        self._edit_params(standin, "tune-regularisation", {"train.C": 0.2}, "C=0.2")
        self._wait(
            "the card for C=0.2", lambda: (c := self._card(pr)) and "| 0.2 |" in c.body and c, timeout=600
        )
        push_s = time.perf_counter() - started
        # the card is posted by the job's card step; its spans are written when the job ends
        train_dir = self._wait(
            "the train job's spans",
            lambda: next(
                (p for p in self._job_dirs("train") if p.name not in before and (p / "spans.json").exists()),
                None,
            ),
            timeout=600,
        )
        repro_s = self._direct_repro("tune-regularisation")
        self.summary["push"] = {
            "total_s": push_s,
            "spans": json.loads((train_dir / "spans.json").read_text()),
            "repro_s": repro_s,
        }
        self.summary["open"]["repro_s"] = self._direct_repro_at(self.summary["open"]["head"])
        self.progress("merging: timing webhook -> Deployment success")
        started = time.perf_counter()
        standin.merge_pull(REPO, pr, by="alice", method="squash")
        self._wait("the promotion", lambda: self._deployment_done(1), timeout=600)
        total = time.perf_counter() - started
        promote_dir = self._wait(
            "the promote job's spans",
            lambda: next((p for p in self._job_dirs("promote") if (p / "spans.json").exists()), None),
            timeout=600,
        )
        outcome = json.loads((promote_dir / "promote.json").read_text())[0]
        self.summary["bench"] = {
            "total_s": total,
            "timings": outcome["timings"],
            "spans": json.loads((promote_dir / "spans.json").read_text()),
            "version": outcome["version"],
        }
        self.summary["baseline"] = self._baseline(outcome["run_id"])

    def _job_dirs(self, kind: str) -> list[Path]:
        return [Path(p) for p in glob.glob(str(self.settings.work_dir / "jobs" / f"job_{kind}_*"))]

    def _direct_repro(self, branch: str) -> float:
        """`dvc repro` of the branch's head in a clone of its own: what the user's own command costs."""
        clone = self.out / "direct-repro"
        shutil.rmtree(clone, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", "-b", branch, str(self.bare), str(clone)], check=True)
        subprocess.run(
            [sys.executable, "-m", "dvc", "pull", "-q"], cwd=clone, capture_output=True, check=False
        )
        params = clone / "params.yaml"
        params.write_text(set_keys(params.read_text(), {"train.C": 0.21}))  # a change of its own to reproduce
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }  # its python
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "dvc", "repro", "-q"], cwd=clone, env=env, check=True, capture_output=True
        )
        return time.perf_counter() - started

    def _direct_repro_at(self, sha: str) -> float:
        """`dvc repro` of the PR's first head (every stage it needs: no dvc.lock yet) in a fresh clone, data
        pulled: what the user's own command costs for the change that opened the PR."""
        clone = self.out / "direct-repro-open"
        shutil.rmtree(clone, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", str(self.bare), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", sha], cwd=clone, check=True)
        subprocess.run(
            [sys.executable, "-m", "dvc", "pull", "-q"], cwd=clone, capture_output=True, check=False
        )
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "dvc", "repro", "-q"], cwd=clone, env=env, check=True, capture_output=True
        )
        return time.perf_counter() - started

    def _baseline(self, run_id: str) -> dict[str, float]:
        """The same registry and bento work, done directly in this process (imports already paid)."""
        from bot.adapters.bentoml import build_service

        registry = self._registry()
        run = registry.run(run_id)
        assert run is not None
        started = time.perf_counter()
        version = registry.register("bench-baseline", run, {"bench": "1"})
        registry.set_alias("bench-baseline", "champion", version.version)
        registry_s = time.perf_counter() - started
        started = time.perf_counter()
        build_service(
            model_name="bench-baseline",
            version=version.version,
            model_uri=f"models:/bench-baseline/{version.version}",
            tracking_uri=self.settings.mlflow_tracking_uri,
            git_sha="0" * 40,
            out_dir=self.out / "baseline-bento",
        )
        bento_s = time.perf_counter() - started
        return {"registry_s": registry_s, "bento_s": bento_s, "total_s": registry_s + bento_s}


def run_variant(name: str, out: Path) -> dict[str, Any]:
    os.environ["MLOPS_BOT_WARM_JOBS"] = "true" if name.startswith("warm") else "false"
    os.environ["MLOPS_BOT_KEEP_JOB_DIRS"] = "true"  # the spans and the promote job's timings are read after
    shutil.rmtree(out / name, ignore_errors=True)
    bench = LoopBench(out=out / name, progress=lambda m: print(f"  [{name}] {m}", flush=True), timeout=600)
    return bench.run(("help", "train", "bench"))


def _row(name: str, summary: dict[str, Any]) -> str:
    opened, push, b, base = summary["open"], summary["push"], summary["bench"], summary["baseline"]
    spans = ", ".join(f"{k} {v:.1f}" for k, v in b["spans"].items())
    timings = ", ".join(f"{k} {v:.1f}" for k, v in b["timings"].items())
    train = ", ".join(f"{k} {v:.1f}" for k, v in push["spans"].items())
    return (
        f"| {name} | {opened['total_s']:.2f} | {opened['total_s'] - opened['repro_s']:+.2f} "
        f"| {push['total_s']:.2f} | {push['repro_s']:.2f} | {push['total_s'] - push['repro_s']:+.2f} "
        f"| {b['total_s']:.2f} | {base['total_s']:.2f} | {b['total_s'] / base['total_s']:.2f}x "
        f"| train job: {train}; promote job: {spans} (inside: {timings}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/mlops-bot-bench-promote"))
    parser.add_argument("--variants", default="warm,cold")
    parser.add_argument("--rounds", type=int, default=1, help="run the variants this many times, interleaved")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    names = [f"{v}-{r + 1}" for r in range(args.rounds) for v in args.variants.split(",")]
    results = {name: run_variant(name, args.out) for name in names}
    load_after = os.getloadavg()[0]
    print(
        f"\n{MODEL} on {platform.node()} ({platform.machine()}), load {load_before:.1f} -> {load_after:.1f}"
    )
    print("| run | PR open -> first card (s) | overhead (s) | push -> card (s) | its dvc repro, direct (s) |"
          " overhead (s) | merge -> Deployment (s) | same work direct (s) | ratio | spans (s) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, summary in results.items():
        print(_row(name, summary))
    for variant in args.variants.split(","):
        runs = [v for k, v in results.items() if k.rsplit("-", 1)[0] == variant]
        opening = statistics.median(r["open"]["total_s"] - r["open"]["repro_s"] for r in runs)
        overhead = statistics.median(r["push"]["total_s"] - r["push"]["repro_s"] for r in runs)
        ratio = statistics.median(r["bench"]["total_s"] / r["baseline"]["total_s"] for r in runs)
        print(
            f"{variant}: median PR open -> first card overhead {opening:+.2f} s, push -> card {overhead:+.2f} s, "
            f"merge -> Deployment {ratio:.2f}x direct"
        )
    if args.json:
        args.json.write_text(json.dumps({k: {x: v[x] for x in ("open", "push", "bench", "baseline")} for k, v in
                                         results.items()}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
