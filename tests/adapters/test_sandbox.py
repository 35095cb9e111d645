"""The stage sandbox with real processes: timeouts, leftovers, uid and symlinks (issue 18, findings 1 and 5)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from bot.adapters.sandbox import Sandbox, StageTimeout, escaping_links, stage_uid

# A stage that leaves a detached grandchild (its own session, so not in the stage's process group) and
# then hangs, as `sleep infinity` in a dvc.yaml `cmd` would.
HANG = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
open("leftover.pid", "w").write(str(child.pid))
print("started", flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return status != "Z"


def _sandbox(tmp_path: Path, *, uid: int | None, timeout_s: float | None) -> Sandbox:
    return Sandbox(
        home=tmp_path / "stage" / "home", tmp=tmp_path / "stage" / "tmp", uid=uid, timeout_s=timeout_s
    )


def test_a_hanging_stage_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    checkout = tmp_path / "repo"
    checkout.mkdir()
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(StageTimeout, match=r"1\.5 s timeout"):
        _sandbox(tmp_path, uid=None, timeout_s=1.5).run(
            [sys.executable, "-c", HANG], cwd=checkout, env={"PATH": os.environ["PATH"]}, on_line=lines.append
        )
    assert time.monotonic() - started < 10
    assert lines == ["started\n"]
    leftover = int((checkout / "leftover.pid").read_text())
    assert not _alive(leftover), "a process that left the stage's session outlived it"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching uids needs root (CI runs as root)")
def test_a_stage_runs_as_its_own_uid_and_nothing_it_started_survives(tmp_path: Path) -> None:
    (tmp_path / "stage").mkdir()
    tmp_path.chmod(0o711)
    checkout = tmp_path / "repo"
    checkout.mkdir()
    uid = stage_uid("job-x")
    with pytest.raises(StageTimeout):
        _sandbox(tmp_path, uid=uid, timeout_s=3).run(
            [sys.executable, "-c", HANG],
            cwd=checkout,
            env={"PATH": os.environ["PATH"]},
            on_line=lambda _: None,
        )
    leftover = int((checkout / "leftover.pid").read_text())
    assert not _alive(leftover), "a detached process of the stage outlived it"
    assert (checkout / "leftover.pid").stat().st_uid == os.geteuid(), "the bot owns the checkout again"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching uids needs root (CI runs as root)")
def test_the_stage_user_cannot_read_the_bots_files(tmp_path: Path) -> None:
    tmp_path.chmod(0o711)
    secret = tmp_path / "app-key.pem"
    secret.write_text("-----BEGIN PRIVATE KEY-----")
    secret.chmod(0o600)
    checkout = tmp_path / "repo"
    checkout.mkdir()
    code = _sandbox(tmp_path, uid=stage_uid("job-y"), timeout_s=60).run(
        [sys.executable, "-c", f"open({str(secret)!r}).read()"],
        cwd=checkout,
        env={"PATH": os.environ["PATH"]},
        on_line=lambda _: None,
    )
    assert code != 0


def test_symlinks_leaving_the_checkout_are_named(tmp_path: Path) -> None:
    checkout = tmp_path / "repo"
    (checkout / "plots").mkdir(parents=True)
    (checkout / "model.pkl").write_text("m")
    (checkout / "metrics.json").symlink_to("/etc/passwd")
    (checkout / "plots" / "roc.csv").symlink_to("../../outside.csv")
    (checkout / "inside.pkl").symlink_to("model.pkl")
    assert escaping_links(checkout) == ["metrics.json", "plots/roc.csv"]


def test_stage_uids_differ_per_job_and_sit_above_real_accounts() -> None:
    uids = {stage_uid(f"job-{n}") for n in range(200)}
    assert len(uids) == 200
    assert min(uids) >= 3_000_000
