"""What the train action's setup costs on a runner's first run and on the next one (issue 17, item 3).

    .venv/bin/python bench/actions_setup.py [--requirements "scikit-learn\\npandas<3"]

Runs a one-step workflow (`uses: mlops-bot/mlops-bot/actions/train@v0.1.0`, install "true") under `act` in
host mode three times in a row:

1. cold: a fresh machine and no cache entries (a repository's first run);
2. fresh VM: a fresh machine (empty tool cache, pip cache and Python) with the entries run 1 saved, as every
   GitHub-hosted run after the first;
3. same runner: the machine of run 2 kept as it was (tool cache, Python), as a self-hosted runner's next job.

Each with:

* the action's checkout: `git archive HEAD` of this repository (what a tag would hold);
* "the runner's Python": a fresh virtual environment of this interpreter's base Python, first on PATH, as
  actions/setup-python leaves it; the project's requirements.txt is installed into it;
* actions/cache: the offline stand-in (tests/actions/offline/cache), entries kept in one folder across the
  runs, the way GitHub keeps a repository's caches between workflow runs. It links instead of uploading a
  tarball, so it leaves out GitHub's cache download and upload time (for a ~1 GB venv, tens of seconds).

The training itself fails at once (no GitHub to read the config from) and the step is continue-on-error, so
each job succeeds, as a job must for actions/cache to save. Prints each setup step's time per run (from
act's log) and each later run's ratio against the first, measured in the same invocation.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_PIN = "actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830"
SETUP_STEPS = (
    "Locate mlops-bot's environment",
    "Restore mlops-bot's environment",
    "Install mlops-bot",
    "Check mlops-bot is available",
    "Restore pip's cache",
    "Install the project's requirements",
)
WORKFLOW = """\
name: setup
on: pull_request
permissions: {}
jobs:
  train:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v4
      - uses: mlops-bot/mlops-bot/actions/train@v0.1.0
        continue-on-error: true
        with:
          install: "true"
          card: "false"
          mlflow-tracking-uri: sqlite:///mlflow.db
"""
_STEP_DONE = re.compile(r"(?:✅  Success|❌  Failure) - Main (?P<name>.+?) \[(?P<took>[^\]]+)\]")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|µs|us|m|s)")


def seconds(go_duration: str) -> float:
    """act prints Go durations: `1m23.4s`, `834.1ms`."""
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
    return sum(float(n) * scale[u] for n, u in _DURATION.findall(go_duration))


def step_times(log: str) -> dict[str, float]:
    times: dict[str, float] = {}
    for match in _STEP_DONE.finditer(log):
        if match["name"] in SETUP_STEPS:
            times[match["name"]] = times.get(match["name"], 0.0) + seconds(match["took"])
    return times


def prepare(work: Path, requirements: str) -> tuple[Path, Path, dict[str, str]]:
    source = work / "mlops-bot-src"
    source.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    tar = work / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(source, filter="data")
    repo = work / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "setup.yml").write_text(WORKFLOW)
    (repo / "requirements.txt").write_text(requirements.replace("\\n", "\n") + "\n")
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], cwd=repo, check=True)
    runner_python = work / "runner-python"  # made by fresh_machine()
    home = work / "home"
    home.mkdir()
    env = {
        "PATH": f"{runner_python / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "OFFLINE_CACHE": str(work / "cache"),
    }
    (work / "cache").mkdir()
    return repo, source, env


SCENARIOS = ("cold", "fresh VM", "same runner")


def fresh_machine(work: Path, env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    shutil.rmtree(home / ".cache" / "act" / "tool_cache", ignore_errors=True)
    shutil.rmtree(home / ".cache" / "pip", ignore_errors=True)
    runner_python = work / "runner-python"
    shutil.rmtree(runner_python, ignore_errors=True)
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    subprocess.run([str(base), "-m", "venv", str(runner_python)], check=True)


def run_once(repo: Path, source: Path, env: dict[str, str]) -> tuple[float, dict[str, float], str]:
    act = shutil.which("act", path=str(Path(sys.executable).parent)) or shutil.which("act")
    if not act:
        raise SystemExit("act is not installed (pip install -e '.[dev]')")
    command = [
        act, "pull_request", "-P", "ubuntu-latest=-self-hosted", "--pull=false",
        "--local-repository", f"mlops-bot/mlops-bot@v0.1.0={source}",
        "--local-repository", f"{CACHE_PIN}={ROOT / 'tests' / 'actions' / 'offline' / 'cache'}",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"act failed ({done.returncode}):\n{log[-4000:]}")
    return wall, step_times(log), log


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requirements", default="scikit-learn\\npandas<3")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-actions-setup-"))
    try:
        repo, source, env = prepare(work, args.requirements)
        print(f"load average {os.getloadavg()[0]:.1f}; work folder {work}")
        runs = []
        for i, scenario in enumerate(SCENARIOS):
            if scenario != "same runner":  # a fresh machine: nothing of the last job's is left on it
                fresh_machine(work, env)
            wall, times, log = run_once(repo, source, env)
            (work / f"act-run-{i + 1}.log").write_text(log)
            hits = re.findall(r"cache (mlops-bot-[a-z]+)-\S+: hit=(\w+)", log)
            runs.append((wall, times))
            print(
                f"run {i + 1} ({scenario}): {wall:.1f} s wall; cache lookups: {', '.join(f'{k}={v}' for k, v in hits)}"
            )
        first = runs[0][1]
        header = "| step | " + " | ".join(SCENARIOS) + " | later / cold |"
        print("\n" + header + "\n|---|" + "---:|" * len(runs) + "---:|")
        for name in [*SETUP_STEPS, "setup total"]:
            values = [sum(t.values()) if name == "setup total" else t.get(name, 0.0) for _, t in runs]
            base = sum(first.values()) if name == "setup total" else first.get(name, 0.0)
            ratios = ", ".join(f"{v / base:.2f}x" for v in values[1:]) if base else "–"
            print(f"| {name} | " + " | ".join(f"{v:.1f} s" for v in values) + f" | {ratios} |")
        walls = [w for w, _ in runs]
        print("| whole job (wall) | " + " | ".join(f"{w:.1f} s" for w in walls) + " | "
              + ", ".join(f"{w / walls[0]:.2f}x" for w in walls[1:]) + " |")  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
