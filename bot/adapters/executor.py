"""Where heavy jobs run: a local work directory (the embedded default) or GitHub Actions.

The local executor runs the very CLI steps the reusable actions run (`mlops-bot train`, `card`, `promote`,
`drift` ...) as subprocesses, in a working copy of the job's own made from the repository's cached clone
(bot/adapters/clone_cache.py), so the web process never imports an ML SDK and a crashed job cannot take the
bot down. Credentials reach git and the bot's steps through the environment only, and
never the repository's stage commands (bot/adapters/sandbox.py).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.adapters.clone_cache import CloneCache, CloneError
from bot.adapters.sandbox import Isolation, Sandbox, resolve_isolation, stage_uid
from bot.adapters.warm_runner import WarmRunner, WarmRunnerBusy, WarmRunnerError, WarmStep
from bot.core.isolation import job_environment
from bot.core.jobs import Step
from bot.core.scrub import scrub
from bot.logs import ENV_CONTEXT, STEP_LOG_ENV

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_JOB_TIMEOUT_S", "JobError", "LocalExecutor", "Step", "job_dir_name"]

LOG_TAIL_LINES = 60
DEFAULT_JOB_TIMEOUT_S = 3600.0


class _Process(Protocol):
    """A running step: a cold subprocess, or a child of the warm runner."""

    pid: int

    def wait(self, timeout: float | None = None) -> int: ...


class JobError(Exception):
    """A job step failed; the message carries the step and the tail of its log."""


@dataclass
class LocalExecutor:
    """Runs a job's steps in a fresh working copy (from the repository's cached clone). The bot's own steps get an allow-listed environment plus the
    job's token; the repository's stage commands (inside `mlops-bot train`) run in a sandbox the executor
    arranges here: a uid of their own when the bot is root, a private HOME/TMPDIR, a timeout."""

    work_dir: Path
    github_api_url: str
    tracking_uri: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    keep_workdirs: bool = False
    isolation: Isolation = "auto"
    timeout_s: float = DEFAULT_JOB_TIMEOUT_S
    stage_root: Path | None = None  # where stage checkouts live (must be reachable by the stage uid)
    warm: WarmRunner | None = None  # steps forked from a pre-imported runner (bot/adapters/warm_runner.py)

    def run(
        self,
        job_id: str,
        *,
        clone_url: str,
        token: str,
        repo: str,
        checkout: str,
        branch: str | None,
        steps: Sequence[Step],
        files: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> list[int]:
        """Check out `clone_url` at `checkout` (on local `branch` when given) and run `steps` in it. The working
        copy is the job's own, made from the repository's cached clone after a `git fetch`.

        `files` are written into the job directory first (e.g. an Actions-style event file); `{job_dir}` and
        `{repo_dir}` in step arguments and `env` values are replaced by the real paths. Returns each step's exit
        code. Raises JobError when a checked step fails or the job runs past its timeout. The job directory
        (0700) and the stage's checkout are removed afterwards unless `keep_workdirs`.
        """
        key = job_dir_name(job_id)
        root = _private_dir(self.work_dir.resolve() / "jobs" / key, fresh=True)  # a retry starts clean
        sandbox, stage_dir = self._sandbox(key)
        repo_dir = stage_dir / "repo"
        for name, content in (files or {}).items():
            (root / name).write_text(content)
        job_env = self._env(token, repo, clone_url)
        job_env.update(sandbox.as_environment())
        job_env.update({ENV_CONTEXT["delivery"]: job_id, ENV_CONTEXT["repo"]: repo})  # in every log line
        job_env.update({k: v.replace("{job_dir}", str(root)) for k, v in (env or {}).items()})
        deadline = time.monotonic() + self.timeout_s
        spans: dict[str, float] = {}  # where the job's time went: the clone, then each step
        try:
            started = time.perf_counter()
            try:
                how, _ = self._clones().working_copy(
                    clone_url, repo_dir, checkout=checkout, branch=branch, env=job_env
                )
            except CloneError as exc:
                raise JobError(str(exc)) from None
            spans[how] = time.perf_counter() - started  # "clone" the first time, "fetch" after
            codes = []
            for n, step in enumerate(steps):
                log_path = root / f"step{n}-{step.args[0]}.log"
                args = [
                    a.replace("{repo_dir}", str(repo_dir)).replace("{job_dir}", str(root)) for a in step.args
                ]
                with _span(spans, f"{n}:{step.args[0]}"):
                    # The step reads its own log at its end, to keep it where a reader can open it.
                    step_env = {**job_env, STEP_LOG_ENV: str(log_path)}
                    code = self._step(
                        job_id, args, cwd=repo_dir, env=step_env, log_path=log_path, deadline=deadline
                    )
                codes.append(code)
                if code != 0 and step.check:
                    tail = scrub(_tail(log_path), roots=[str(repo_dir), str(root)])  # may reach a reply
                    raise JobError(f"`mlops-bot {step.args[0]}` exited {code}:\n{tail}")
            return codes
        finally:
            log.info("job %s spans: %s", job_id, ", ".join(f"{k} {v:.2f}s" for k, v in spans.items()))
            with contextlib.suppress(OSError):
                (root / "spans.json").write_text(json.dumps(spans))
            if not self.keep_workdirs:
                shutil.rmtree(stage_dir, ignore_errors=True)
                shutil.rmtree(root, ignore_errors=True)

    def _step(
        self,
        job_id: str,
        args: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        deadline: float,
    ) -> int:
        started = time.perf_counter()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise JobError(f"the job ran past its {self.timeout_s:g} s timeout before `mlops-bot {args[0]}`")
        proc = self._start(args, cwd=cwd, env=env, log_path=log_path)
        try:
            code = proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise JobError(
                f"`mlops-bot {args[0]}` ran past the job's {self.timeout_s:g} s timeout and was stopped "
                "(MLOPS_BOT_JOB_TIMEOUT_SECONDS raises the ceiling):\n" + _tail(log_path)
            ) from None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # nothing of the step outlives it
        log.info(
            "job %s step %s exited %s in %.1fs%s",
            job_id, args[0], code, time.perf_counter() - started, " (warm)" if isinstance(proc, WarmStep) else "",
        )  # fmt: skip
        return code

    def _start(self, args: list[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> _Process:
        """The step as a child of the warm runner when there is one (its imports already paid), else cold."""
        if self.warm is not None:
            try:
                return self.warm.start(args, cwd=cwd, env=dict(env), log_path=log_path)
            except WarmRunnerBusy as exc:
                log.info("%s; `mlops-bot %s` runs cold", exc, args[0])
            except WarmRunnerError as exc:
                log.warning("%s; `mlops-bot %s` runs cold", exc, args[0])
        with log_path.open("w") as out:
            return subprocess.Popen(
                # -P: the checkout (the step's cwd) is not put on sys.path, so none of its modules can shadow
                # one the bot imports (a pull request's argparse.py would run with the job's token).
                [sys.executable, "-P", "-m", "bot", *args],
                cwd=cwd,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _clones(self) -> CloneCache:
        return CloneCache(self.work_dir.resolve() / "clones")

    def warm_up(self) -> None:
        """Start the warm runner's imports now (the worker's start), so that the first job's steps find it
        ready instead of running cold; a failure to start is logged, and steps run cold."""
        if self.warm is not None:
            try:
                self.warm.warm_up()
            except WarmRunnerError as exc:
                log.warning("%s; job steps run cold", exc)

    def close(self) -> None:
        """Stop the warm runner, if this executor started one."""
        if self.warm is not None:
            self.warm.close()

    def _sandbox(self, key: str) -> tuple[Sandbox, Path]:
        """The stage's sandbox and the folder holding the checkout, its HOME and TMPDIR."""
        mode = resolve_isolation(self.isolation)
        if mode == "user":
            uid = stage_uid(key)
            base = self.stage_root or Path(tempfile.gettempdir()) / "mlops-bot-stages"
            base.mkdir(parents=True, exist_ok=True)
            base.chmod(0o711)  # the stage uid may pass through to its own folder, list nothing
            stage_dir = _private_dir(base / key, fresh=True)
        else:
            uid = None
            stage_dir = _private_dir(self.work_dir.resolve() / "stages" / key, fresh=True)
        # The stage stops before the job does, so `mlops-bot train` can still report it on a failed card.
        stage_timeout = max(self.timeout_s * 0.9, self.timeout_s - 120)
        venvs = stage_dir.parent.parent / "venvs" if uid is None else stage_dir.parent / "venvs"
        sandbox = Sandbox(
            home=stage_dir / "home", tmp=stage_dir / "tmp", uid=uid, timeout_s=stage_timeout, venvs=venvs
        )
        return sandbox, stage_dir

    def _env(self, token: str, repo: str, clone_url: str) -> dict[str, str]:
        env = job_environment(os.environ)
        # The embedded default: stages find the bot's Python (and the packages installed beside it) first,
        # as in an activated virtual environment.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
        env.update(self.extra_env)
        env.update(
            {
                "GITHUB_TOKEN": token,
                "GITHUB_API_URL": self.github_api_url,
                "GITHUB_REPOSITORY": repo,
                "MLFLOW_TRACKING_URI": self.tracking_uri,
                "GIT_TERMINAL_PROMPT": "0",
            }
        )
        env.setdefault("HOME", os.environ.get("HOME", "/"))
        env.setdefault("GIT_AUTHOR_NAME", "mlops-bot")
        env.setdefault("GIT_AUTHOR_EMAIL", "mlops-bot@users.noreply.github.com")
        env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
        env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
        if clone_url.startswith("https://") and token:
            # An extra header through git's environment config: the token never appears in argv or the URL.
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            env.update(
                {
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: basic {basic}",
                }
            )
        return env


def job_dir_name(job_id: str) -> str:
    """A readable, collision-free folder name for a job: a prefix of its id and a hash of all of it."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", job_id)[:60]
    return f"{readable}-{hashlib.sha256(job_id.encode()).hexdigest()[:16]}"


@contextlib.contextmanager
def _span(spans: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        spans[name] = time.perf_counter() - started


def _private_dir(path: Path, *, fresh: bool) -> Path:
    if fresh and path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=not fresh)
    path.chmod(0o700)  # whatever the umask
    return path


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
