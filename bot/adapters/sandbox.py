"""Running the repository's stage commands apart from the bot.

A job's `dvc repro` runs the pull request's own code. It gets:

- an allow-listed environment (`bot.core.isolation.stage_environment`): no bot secret, key, database URL or
  GitHub token;
- when the bot runs as root (the container default), a uid of its own, derived from the job, with no
  supplementary groups: it cannot read the bot's files (key, databases, other jobs' directories, other
  processes' `/proc/<pid>/environ`), and every process it leaves behind is found by that uid and killed;
- its own session and process group, killed whole when the stage ends, fails or times out;
- a private HOME and TMPDIR inside the job's stage directory.

Without root (`isolation: none`) only the environment and the process group apply; `docs/security.md` says
what that leaves open. The bot's own code reads the stage's outputs after it ends: a symlink that leaves the
checkout is refused before anything follows it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Isolation = Literal["auto", "user", "none"]

# Stage uids live far above any real account; one per job (hash of the job key), so concurrent jobs never
# share one and "every process of this uid" is exactly the job's processes.
STAGE_UID_BASE = 3_000_000
STAGE_UID_SPAN = 1_000_000

# Env variables through which the local executor tells a job step how its stages run.
ENV_UID = "MLOPS_BOT_STAGE_UID"
ENV_HOME = "MLOPS_BOT_STAGE_HOME"
ENV_TMP = "MLOPS_BOT_STAGE_TMP"
ENV_VENVS = "MLOPS_BOT_STAGE_VENVS"
ENV_TIMEOUT = "MLOPS_BOT_STAGE_TIMEOUT_SECONDS"
STAGE_MARK = "MLOPS_STAGE_RUN"  # set in every stage process's environment (no secret: a random id)


class SandboxError(Exception):
    """The stage cannot be run as required (the message says why and what to do)."""


class StageTimeout(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the stage commands ran past the {seconds:g} s timeout and were stopped")
        self.seconds = seconds


def stage_uid(job_key: str) -> int:
    digest = hashlib.sha256(job_key.encode()).digest()
    return STAGE_UID_BASE + int.from_bytes(digest[:4], "big") % STAGE_UID_SPAN


def resolve_isolation(isolation: Isolation) -> Literal["user", "none"]:
    """`auto`: a uid of its own when the bot can switch uids (root) and that uid can run the bot's Python;
    otherwise environment-only, with a warning. `user` insists, with a message saying what is missing."""
    if isolation == "none":
        return "none"
    problem = _user_isolation_problem()
    if problem is None:
        return "user"
    if isolation == "user":
        raise SandboxError(problem)
    log.warning("stage commands run as the bot's own user, not isolated: %s", problem)
    return "none"


@functools.cache
def _user_isolation_problem(python: str = sys.executable) -> str | None:
    if os.geteuid() != 0:
        return (
            "stage isolation `user` needs the bot to run as root (it switches each job's stage to a uid of its "
            "own); run it as root in its container, or set MLOPS_BOT_STAGE_ISOLATION=none (unsafe for pull "
            "requests from people you do not trust; see docs/security.md)"
        )
    uid = STAGE_UID_BASE
    try:
        done = subprocess.run(
            [python, "-c", "import dvc"], user=uid, group=uid, extra_groups=[], capture_output=True, cwd="/",
            timeout=60,
        )  # fmt: skip
        reachable = done.returncode == 0
    except OSError:
        reachable = False
    if not reachable:
        return (
            f"the stage user (uid {uid}) cannot run {python}: make the folders above the bot's Python "
            "traversable by other users (chmod o+x), or set MLOPS_BOT_STAGE_ISOLATION=none (unsafe for "
            "untrusted pull requests; see docs/security.md)"
        )
    return None


@dataclass(frozen=True)
class Sandbox:
    """How one job's stage commands run: as `uid` (None: the bot's own user), with `home`/`tmp` private."""

    home: Path
    tmp: Path
    uid: int | None = None
    timeout_s: float | None = None
    venvs: Path | None = None  # where project environments built from requirements are kept between jobs

    @classmethod
    def from_environment(cls, env: Mapping[str, str], workdir: Path) -> Sandbox:
        """What the executor arranged (MLOPS_BOT_STAGE_*); on a runner or a laptop, a HOME/TMPDIR beside
        the checkout and the current user."""
        uid = env.get(ENV_UID, "")
        timeout = env.get(ENV_TIMEOUT, "")
        base = workdir.resolve().parent / f".{workdir.name}-stage"
        return cls(
            home=Path(env.get(ENV_HOME) or base / "home"),
            tmp=Path(env.get(ENV_TMP) or base / "tmp"),
            uid=int(uid) if uid else None,
            timeout_s=float(timeout) if timeout else None,
            venvs=Path(env[ENV_VENVS]) if env.get(ENV_VENVS) else None,
        )

    def as_environment(self) -> dict[str, str]:
        env = {ENV_HOME: str(self.home), ENV_TMP: str(self.tmp)}
        if self.uid is not None:
            env[ENV_UID] = str(self.uid)
        if self.timeout_s is not None:
            env[ENV_TIMEOUT] = f"{self.timeout_s:g}"
        if self.venvs is not None:
            env[ENV_VENVS] = str(self.venvs)
        return env

    # -- running ---------------------------------------------------------------------------------------
    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_line: Callable[[str], None],
        also_owned: Sequence[Path] = (),
    ) -> int:
        """Run `args` in `cwd` as the stage user; feed each output line to `on_line`; return the exit code.

        Raises StageTimeout after `timeout_s`. Every process the stage started is gone when this returns.
        """
        for folder in (self.home, self.tmp):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Every process of the stage inherits this mark: without a uid of its own, it is how a process that
        # left the stage's session is found again.
        mark = secrets.token_hex(16)
        with self._owned(cwd, *also_owned):
            proc = subprocess.Popen(
                list(args),
                cwd=cwd,
                env={**env, STAGE_MARK: mark},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                start_new_session=True,  # its own process group: killed whole below
                umask=0o077,
                close_fds=True,
                user=self.uid,
                group=self.uid,
                extra_groups=None if self.uid is None else [],
            )
            # Read in a thread: a process the stage detached may hold the pipe open after the stage ends.
            reader = threading.Thread(target=_pump, args=(proc, on_line), daemon=True)
            reader.start()
            timed_out = False
            try:
                proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                self._kill_everything(proc.pid, mark)
                proc.wait()
                reader.join(timeout=5)
            if timed_out:
                assert self.timeout_s is not None
                raise StageTimeout(self.timeout_s)
            return int(proc.returncode)

    @contextlib.contextmanager
    def _owned(self, *trees: Path) -> Iterator[None]:
        """The stage user owns the checkout (and its HOME/TMPDIR) while it runs; the bot owns it after."""
        if self.uid is None:
            yield
            return
        for path in (self.home.parent, self.home, self.tmp):
            os.chown(path, self.uid, self.uid, follow_symlinks=False)
        for tree in trees:
            _chown_tree(tree, self.uid)
        try:
            yield
        finally:
            for tree in trees:
                _chown_tree(tree, os.geteuid(), os.getegid())

    def _kill_everything(self, pid: int, mark: str) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        # A process that left the group (setsid, double fork) still has the job's uid, or the stage's mark.
        for _ in range(5):
            left = _pids_of_uid(self.uid) if self.uid is not None else _pids_marked(mark)
            if not left:
                return
            for pid_left in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid_left, signal.SIGKILL)
            time.sleep(0.05)


def _pump(proc: subprocess.Popen[str], on_line: Callable[[str], None]) -> None:
    assert proc.stdout is not None
    with contextlib.suppress(ValueError, OSError):
        for line in proc.stdout:
            on_line(line)


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid and int(entry.name) != os.getpid():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _pids_marked(mark: str) -> list[int]:
    needle = f"{STAGE_MARK}={mark}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _chown_tree(root: Path, uid: int, gid: int | None = None) -> None:
    gid = uid if gid is None else gid
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def escaping_links(root: Path) -> list[str]:
    """Symlinks under `root` whose target resolves outside it (relative paths), e.g. `metrics.json ->
    /etc/…`: the bot must not follow them when it reads the stage's outputs."""
    top = root.resolve()
    bad = []
    for folder, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            path = Path(folder, name)
            if path.is_symlink():
                target = path.resolve()
                if target != top and top not in target.parents:
                    bad.append(str(path.relative_to(top)))
    return sorted(bad)


__all__ = [
    "ENV_TIMEOUT",
    "ENV_UID",
    "Isolation",
    "Sandbox",
    "SandboxError",
    "StageTimeout",
    "escaping_links",
    "resolve_isolation",
    "stage_uid",
]
