"""What `mlops-bot train` costs on top of `dvc repro`, and what a push that changes nothing costs.

    .venv/bin/python bench/train.py [--rounds 3] [--keep DIR] [--no-bytecode-cache]

On the sample project (templates/project), each round makes one real change (a new `train.C`) in two
identical copies of a trained repository and times, in the same run:

* `dvc repro train` in copy A: the baseline, what a user would run anyway;
* `mlops-bot train` in copy B: pull, repro, read params/metrics/plots through DVC, log the run and the
  model to MLflow (sqlite store), push to the DVC remote (a folder);
* `mlops-bot train` again in copy B with nothing changed: the no-op push (the run is found and reused).

Goals (issue 12): overhead (B minus A) <= 1.5 s; no-op <= 1.5 s. Each command is a fresh process, timed as wall clock
and as CPU (user+sys of the child processes, which moves less with the machine's load).

`--warm` adds, in the same rounds, `mlops-bot train` and the no-op forked from the warm runner
(bot/adapters/warm_runner.py, what the local executor does by default) in a third copy: wall clock only (the
forked step is the runner's child, not this script's).

Bytecode: this machine's venv has no .pyc files and sets PYTHONDONTWRITEBYTECODE=1, so by default every
import compiles from source. A normal `pip install` writes bytecode, so the default here gives the child
processes a private bytecode cache (PYTHONPYCACHEPREFIX) and one warm-up round that is not counted.
`--no-bytecode-cache` measures the machine as it is.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.dvc import DvcProject, init_sample_project  # noqa: E402
from bot.adapters.warm_runner import WarmRunner  # noqa: E402

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # user + system of the child processes


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def timed_warm(runner: WarmRunner, args: list[str], cwd: Path, env: dict[str, str]) -> Timing:
    """`mlops-bot ARGS` forked from the pre-imported warm runner, as the local executor runs a job step."""
    log = cwd.parent / f"{cwd.name}-warm.log"
    started = time.perf_counter()
    code = runner.start(args, cwd=cwd, env=env, log_path=log).wait()
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(
            f"warm mlops-bot {' '.join(args)} exited {code} in {cwd}:\n{log.read_text()[-3000:]}"
        )
    return Timing(wall, float("nan"))


def set_c(repo: Path, value: float) -> None:
    params = repo / "params.yaml"
    lines = params.read_text().splitlines(keepends=True)
    out = [f"  C: {value} # benchmark\n" if line.startswith("  C:") else line for line in lines]
    params.write_text("".join(out))


def commit(repo: Path, message: str) -> None:
    subprocess.run(["git", "commit", "-q", "-am", message], cwd=repo, check=True, env=GIT_ENV)


GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@mlops-bot.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@mlops-bot.invalid",
}


def main() -> None:
    # The setup's own `dvc repro` runs the sample's stages (`python src/...`) with this venv's Python, as
    # the timed commands do: the venv need not be activated.
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="measure without a .pyc cache")
    parser.add_argument("--warm", action="store_true", help="also time train and no-op forked warm")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="mlops-bot-bench-train-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**GIT_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    for key in ("GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "MLOPS_BOT_MLFLOW_TRACKING_URI"):
        env.pop(key, None)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow' / 'mlflow.db'}"
    if not args.no_bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    (work / "mlflow").mkdir(exist_ok=True)

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"work folder: {work}; bytecode cache: {'off' if args.no_bytecode_cache else 'private, warmed'}")

    base = init_sample_project(work / "base", remote=work / "remote")
    with DvcProject(base) as project:
        project.repro("train")
        project.push()
    subprocess.run(["git", "add", "-A"], cwd=base, check=True)
    commit(base, "trained")

    dvc = [str(BIN / "dvc"), "repro", "train"]
    # Outside GitHub the rules come from a file beside the checkouts, as `--offline-config` asks (never the
    # checkout's own copy: that is the pull request's).
    rules = work / "mlops-bot.yml"
    shutil.copyfile(base / ".github" / "mlops-bot.yml", rules)
    bot = [sys.executable, "-m", "bot", "train", "--repo-dir", ".", "--offline-config", str(rules)]
    rows: list[tuple[int, Timing, Timing, Timing]] = []
    warm_rows: list[tuple[Timing, Timing]] = []
    runner = WarmRunner(work / "warm", idle_s=3600) if args.warm else None
    if runner is not None and not runner.wait_ready(300):
        raise SystemExit("the warm runner did not start")
    warmups = 0 if args.no_bytecode_cache else 1
    for n in range(warmups + args.rounds):
        a = work / f"round{n}-dvc"
        b = work / f"round{n}-bot"
        c = work / f"round{n}-warm"
        for copy in (a, b, c) if runner is not None else (a, b):
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(base, copy, symlinks=True)
            set_c(copy, round(0.05 + 0.1 * n, 2))
            commit(copy, f"C for round {n}")
        repro = timed(dvc, a, env)
        trained = timed(bot, b, env)
        noop = timed(bot, b, env)
        label = "warm-up" if n < warmups else f"round {n - warmups + 1}"
        print(
            f"{label}: dvc repro {repro.wall:.2f}s (cpu {repro.cpu:.2f}s) | mlops-bot train {trained.wall:.2f}s "
            f"(cpu {trained.cpu:.2f}s) | overhead {trained.wall - repro.wall:+.2f}s | no-op {noop.wall:.2f}s "
            f"(cpu {noop.cpu:.2f}s)"
        )
        if n >= warmups:
            rows.append((n, repro, trained, noop))
        if runner is not None:
            warm_trained = timed_warm(runner, bot[3:], c, env)
            warm_noop = timed_warm(runner, bot[3:], c, env)
            print(
                f"  warm: mlops-bot train {warm_trained.wall:.2f}s | overhead {warm_trained.wall - repro.wall:+.2f}s"
                f" | no-op {warm_noop.wall:.2f}s"
            )
            if n >= warmups:
                warm_rows.append((warm_trained, warm_noop))

    def median(values: list[float]) -> float:
        return statistics.median(values)

    repro_wall = median([r.wall for _, r, _, _ in rows])
    train_wall = median([t.wall for _, _, t, _ in rows])
    overhead = median([t.wall - r.wall for _, r, t, _ in rows])
    overhead_cpu = median([t.cpu - r.cpu for _, r, t, _ in rows])
    noop_wall = median([n.wall for _, _, _, n in rows])
    noop_cpu = median([n.cpu for _, _, _, n in rows])
    print()
    print(f"median of {len(rows)} rounds:")
    print(f"  dvc repro train (baseline)   {repro_wall:6.2f} s")
    print(
        f"  mlops-bot train              {train_wall:6.2f} s   = {train_wall / repro_wall:.2f}x the baseline"
    )
    print(
        f"  overhead (train - repro)     {overhead:+6.2f} s wall, {overhead_cpu:+.2f} s cpu   (goal <= 1.5 s)"
    )
    print(f"  no-op push (train again)     {noop_wall:6.2f} s wall, {noop_cpu:.2f} s cpu   (goal <= 1.5 s)")
    if warm_rows:
        warm_overhead = median(
            [w.wall - r.wall for (w, _), (_, r, _, _) in zip(warm_rows, rows, strict=True)]
        )
        print(f"  warm mlops-bot train         {median([w.wall for w, _ in warm_rows]):6.2f} s")
        print(f"  warm overhead (train - repro) {warm_overhead:+6.2f} s wall   (goal <= 1.5 s)")
        print(
            f"  warm no-op push              {median([n.wall for _, n in warm_rows]):6.2f} s wall   (goal <= 1.5 s)"
        )
    if runner is not None:
        runner.close()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
