"""The local executor's job folders (issue 18, finding 8): names that never collide, private, removed after."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from bot.adapters.executor import JobError, LocalExecutor, Step, job_dir_name


def test_long_job_ids_that_share_a_prefix_get_their_own_folders() -> None:
    base = "job:train:acme/" + "a" * 200
    names = {job_dir_name(base + suffix) for suffix in ("1", "2", ":x")}
    assert len(names) == 3
    assert all(len(n) <= 80 for n in names)


def _origin(tmp_path: Path) -> str:
    origin = tmp_path / "origin"
    if origin.exists():
        return f"file://{origin}"
    origin.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(["git", *args], cwd=origin, check=True)
    return f"file://{origin}"


def test_a_job_folder_is_private_and_removed_after_the_job(tmp_path: Path) -> None:
    def run(keep: bool) -> Path:
        executor = LocalExecutor(tmp_path / f"work-{keep}", "http://127.0.0.1:9", "sqlite:///x.db",
                                 isolation="none", keep_workdirs=keep)  # fmt: skip
        executor.run("job-1", clone_url=_origin(tmp_path), token="", repo="acme/x", checkout="main", branch=None,
                     steps=[Step(("--help",))], files={"event.json": "{}"})  # fmt: skip
        return tmp_path / f"work-{keep}" / "jobs"

    kept = list(run(keep=True).iterdir())
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o777 == 0o700
    assert (kept[0] / "event.json").is_file()
    assert list(run(keep=False).iterdir()) == []


def test_a_step_past_the_job_timeout_is_stopped_with_a_clear_error(tmp_path: Path) -> None:
    # The step hangs at interpreter start-up: a sitecustomize on the step's PYTHONPATH sleeps.
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text("import time\ntime.sleep(60)\n")
    executor = LocalExecutor(tmp_path / "work", "http://127.0.0.1:9", "sqlite:///x.db", isolation="none",
                             timeout_s=2)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(JobError, match="ran past the job's 2 s timeout"):
        executor.run("job-2", clone_url=_origin(tmp_path), token="", repo="acme/x", checkout="main", branch=None,
                     steps=[Step(("--help",))], env={"PYTHONPATH": str(tmp_path / "hook")})  # fmt: skip
    assert time.monotonic() - started < 20


def test_a_module_in_the_checkout_never_runs_inside_the_bots_own_step(tmp_path: Path) -> None:
    # `python -m bot` in the checkout would put the checkout first on sys.path: a pull request's `argparse.py`
    # (or json.py, yaml.py ...) would then run inside the bot's step, which holds the job's GitHub token.
    origin = tmp_path / "origin"
    origin.mkdir()
    marker = tmp_path / "pwned"
    (origin / "argparse.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(3)\n")
    for args in (["init", "-q", "-b", "main"], ["add", "argparse.py"], ["commit", "-q", "-m", "shadow"]):
        subprocess.run(["git", *args], cwd=origin, check=True)
    executor = LocalExecutor(tmp_path / "work", "http://127.0.0.1:9", "sqlite:///x.db", isolation="none")
    codes = executor.run("job-3", clone_url=f"file://{origin}", token="t0ken", repo="acme/x", checkout="main",
                         branch=None, steps=[Step(("--version",))])  # fmt: skip
    assert codes == [0]
    assert not marker.exists(), "the checkout's argparse.py ran inside the bot's step"
