"""Promotion latency: from the merge webhook to the GitHub Deployment marked success.

The bot side runs for real (stand-in GitHub over HTTP, the bot with its queue and local executor, MLflow on
SQLite, `bentoml build`), on the sample project, after the PR has trained. The split comes from the promote
job's own timings (registry, bento build, GitHub calls). The baseline, in the same run, is the same work done
directly without the bot: register the same run as a model version, move an alias, build the same bento.

    .venv/bin/python bench/promote.py [--out DIR]
"""

from __future__ import annotations

import argparse
import glob
import json
import platform
import time
from pathlib import Path
from typing import Any

from bot.demo import MODEL, REPO, Demo


class PromoteBench(Demo):
    def _stage_bench(self, standin: Any) -> None:
        pr = self.pr
        self.progress("merging: timing webhook -> Deployment success")
        started = time.perf_counter()
        standin.merge_pull(REPO, pr, by="alice", method="squash")
        self._wait("the promotion", lambda: self._deployment_done(1), timeout=600)
        total = time.perf_counter() - started
        [job_json] = glob.glob(str(self.settings.work_dir / "jobs" / "job_promote_*" / "promote.json"))
        outcome = json.loads(Path(job_json).read_text())[0]
        self.summary["bench"] = {
            "total_s": total,
            "timings": outcome["timings"],
            "version": outcome["version"],
        }
        self.summary["baseline"] = self._baseline(outcome["run_id"])

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/mlops-bot-bench-promote"))
    args = parser.parse_args()
    bench = PromoteBench(out=args.out, progress=lambda m: print(f"  {m}", flush=True), timeout=600)
    summary = bench.run(("help", "train", "bench"))
    b, base = summary["bench"], summary["baseline"]
    t = b["timings"]
    print(f"\npromotion of {MODEL} v{b['version']} on {platform.node()} ({platform.machine()})")
    print("| step | bot (s) | direct baseline (s) | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| registry calls | {t.get('registry', 0):.2f} | {base['registry_s']:.2f} | "
        f"{t.get('registry', 0) / base['registry_s']:.1f}x |"
    )
    print(
        f"| bento build | {t.get('bento', 0):.2f} | {base['bento_s']:.2f} | {t.get('bento', 0) / base['bento_s']:.1f}x |"
    )
    print(f"| GitHub calls | {t.get('github', 0):.2f} | – | – |")
    print(
        f"| merge webhook -> Deployment success | {b['total_s']:.2f} | {base['total_s']:.2f} | "
        f"{b['total_s'] / base['total_s']:.1f}x |"
    )


if __name__ == "__main__":
    main()
