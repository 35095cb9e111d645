"""What running a pull request's stages sandboxed costs (issue 18, finding 1).

    .venv/bin/python bench/sandbox.py [--rounds 5]

On the sample project (templates/project), each round changes `train.C` in two identical trained copies
and times, in the same run:

* baseline: `python -m dvc repro train` as a plain child process with the caller's environment, the way
  `DvcProject.repro` ran it before the sandbox;
* sandboxed: the same command through `DvcProject.repro` — allow-listed environment, its own session and
  process group, and, when this runs as root, a uid of its own (the checkout chowned to it and back, every
  process of that uid killed after).

Prints each figure and the ratio sandboxed / baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.dvc import DvcProject, init_sample_project  # noqa: E402
from bot.adapters.sandbox import Sandbox, resolve_isolation, stage_uid  # noqa: E402


def _set_c(root: Path, value: float) -> None:
    params = root / "params.yaml"
    lines = [
        f"  C: {value}" if line.strip().startswith("C:") else line for line in params.read_text().splitlines()
    ]
    params.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    mode = resolve_isolation("auto")
    base = Path(tempfile.mkdtemp(prefix="bench-sandbox-", dir=tempfile.gettempdir()))
    base.chmod(0o711)
    try:
        # As in an activated venv: the sample's `python` is this interpreter.
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
        sample = init_sample_project(base / "sample", remote=base / "remote")
        subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=sample, check=True)
        plain, boxed = base / "plain", base / "boxed"
        shutil.copytree(sample, plain, symlinks=True)
        shutil.copytree(sample, boxed, symlinks=True)
        env = dict(os.environ)
        uid = stage_uid("bench") if mode == "user" else None
        sandbox = Sandbox(home=base / "stage" / "home", tmp=base / "stage" / "tmp", uid=uid, timeout_s=600)
        (base / "stage").mkdir()
        baseline: list[float] = []
        sandboxed: list[float] = []
        for n in range(args.rounds + 1):  # the first round warms caches and is not counted
            value = 0.1 + n / 10
            _set_c(plain, value)
            _set_c(boxed, value)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "dvc", "repro", "train"],
                cwd=plain,
                env=env,
                check=True,
                capture_output=True,
            )
            plain_s = time.perf_counter() - started
            started = time.perf_counter()
            DvcProject(boxed).repro("train", sandbox=sandbox)
            boxed_s = time.perf_counter() - started
            if n:
                baseline.append(plain_s)
                sandboxed.append(boxed_s)
        b, s = statistics.median(baseline), statistics.median(sandboxed)
        print(f"isolation: {mode}; rounds: {args.rounds}; load average: {os.getloadavg()[0]:.1f}")
        print(
            f"baseline  dvc repro (plain child):        median {b:.2f} s  {[round(x, 2) for x in baseline]}"
        )
        print(
            f"sandboxed dvc repro (DvcProject.repro):   median {s:.2f} s  {[round(x, 2) for x in sandboxed]}"
        )
        print(f"ratio sandboxed / baseline: {s / b:.2f}x (+{s - b:.2f} s)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
