"""Drift check benchmark: `mlops-bot drift` on 1,000,000 rows x 20 columns per side against a plain
`scipy.stats.ks_2samp` loop over the same columns, read from the same files.

Setup (not timed): numpy draws reference and current tables (2 columns of the current one moved by
2 std), writes them as Parquet into a throwaway git + DVC repository (the reference `dvc add`-ed and
committed, as a real training set is) with a `.github/mlops-bot.yml` whose drift section names them.

Each variant then runs in its own child process; wall time is measured around the child and peak
RSS comes from the child's own rusage (`os.wait4`), so imports, reading and the report all count:
  mlops-bot      `mlops-bot drift` with the sample cap set by --cap (default 200,000 rows per side)
  unsampled      the same with the cap above the row count (every row goes to Evidently); opt in, slow
  scipy-ks       read both Parquet files with pandas, `ks_2samp` on each column, p < 0.05 is drift

    .venv/bin/python bench/drift.py [--rows 1000000] [--cols 20] [--cap 200000] [--variants mlops-bot,scipy-ks]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHIFTED = ("c3", "c11")
BIN = Path(sys.executable).parent


def make_repo(root: Path, *, rows: int, cols: int, cap: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(cols)]
    scale, offset = rng.uniform(0.5, 5, cols), rng.uniform(-10, 10, cols)
    reference = pd.DataFrame(rng.normal(size=(rows, cols)) * scale + offset, columns=names)
    current = pd.DataFrame(rng.normal(size=(rows, cols)) * scale + offset, columns=names)
    for col in SHIFTED:
        current[col] += 2 * reference[col].std()

    def sh(*cmd: str) -> None:
        exe = str(BIN / cmd[0]) if (BIN / cmd[0]).exists() else cmd[0]
        subprocess.run([exe, *cmd[1:]], cwd=root, check=True, capture_output=True)

    sh("git", "init", "-q", "-b", "main")
    sh("dvc", "init", "-q")
    sh("dvc", "config", "core.analytics", "false")
    (root / "data").mkdir()
    (root / "prod").mkdir()
    (root / ".github").mkdir()
    reference.to_parquet(root / "data" / "reference.parquet")
    current.to_parquet(root / "prod" / "current.parquet")
    write_config(root, cap)
    sh("dvc", "add", "-q", "data/reference.parquet")
    sh("git", "add", "data/reference.parquet.dvc", "data/.gitignore", ".github", ".dvc")
    sh(
        "git",
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@mlops-bot.invalid",
        "commit",
        "-q",
        "-m",
        "reference data",
    )


def write_config(root: Path, cap: int) -> None:
    (root / ".github" / "mlops-bot.yml").write_text(
        "version: 1\n"
        "models:\n"
        "  - name: bench\n"
        "    stage: train\n"
        "    output: model.pkl\n"
        "    drift:\n"
        "      current: prod/current.parquet\n"
        "      reference: data/reference.parquet\n"
        f"      sample_cap: {cap}\n"
    )


def run_child(cmd: list[str], env: dict[str, str]) -> dict[str, float | str]:
    """Run `cmd`; its wall time, peak RSS (its own, from wait4) and last stdout line."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{text[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime
        + usage.ru_stime,  # unlike wall time, barely moved by other load on the machine
        "peak_rss_mib": usage.ru_maxrss / 1024,  # ru_maxrss is in KiB on Linux
        "output": text.strip(),
    }


def scipy_child(root: Path) -> None:
    """The baseline: the same files, the same columns, one KS test each."""
    from scipy.stats import ks_2samp

    started = time.perf_counter()
    reference = pd.read_parquet(root / "data" / "reference.parquet")
    current = pd.read_parquet(root / "prod" / "current.parquet")
    read = time.perf_counter() - started
    drifted = [c for c in reference.columns if ks_2samp(reference[c], current[c]).pvalue < 0.05]
    print(json.dumps({"read_s": round(read, 2), "ks_s": round(time.perf_counter() - started - read, 2)}))
    print("drifted: " + ", ".join(drifted))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--cap", type=int, default=200_000)
    parser.add_argument("--variants", default="mlops-bot,scipy-ks", help="also: unsampled")
    parser.add_argument("--scipy-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scipy_child:
        scipy_child(args.scipy_child)
        return

    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="mlops-bot-bench-drift-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        t = time.perf_counter()
        make_repo(root, rows=args.rows, cols=args.cols, cap=args.cap)
        print(f"setup: {args.rows:,} rows x {args.cols} columns per side in {time.perf_counter() - t:.1f} s")
        results: dict[str, dict[str, float | str]] = {}
        for variant in args.variants.split(","):
            if variant in ("mlops-bot", "unsampled"):
                write_config(root, args.cap if variant == "mlops-bot" else args.rows + 1)
                cmd = [
                    str(BIN / "mlops-bot"),
                    "drift",
                    "--repo-dir",
                    str(root),
                    "--out",
                    str(Path(tmp) / variant),
                ]
            elif variant == "scipy-ks":
                cmd = [sys.executable, __file__, "--scipy-child", str(root)]
            else:
                raise SystemExit(f"unknown variant {variant!r}")
            results[variant] = run_child(cmd, env)
            r = results[variant]
            print(
                f"\n== {variant}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, {r['peak_rss_mib']:.0f} MiB peak RSS"
            )
            print(r["output"])

    base = results.get("scipy-ks")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print("| variant | wall (s) | CPU (s) | peak RSS (MiB) | wall / scipy | CPU / scipy | RSS / scipy |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant, r in results.items():
        row = [float(r[k]) for k in ("wall_s", "cpu_s", "peak_rss_mib")]
        ratios = (
            [
                f"{v / float(base[k]):.1f}x"
                for v, k in zip(row, ("wall_s", "cpu_s", "peak_rss_mib"), strict=True)
            ]
            if base
            else ["-"] * 3
        )
        print(f"| {variant} | {row[0]:.1f} | {row[1]:.1f} | {row[2]:.0f} | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
