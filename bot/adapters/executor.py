"""Where heavy jobs run: a local work directory (the embedded default) or GitHub Actions.

The local executor runs the very CLI steps the reusable actions run (`mlops-bot train`, `card`, `promote`,
`drift` ...) in a fresh clone, as subprocesses, so the web process never imports an ML SDK and a crashed
job cannot take the bot down. Credentials reach git and the steps through the environment only.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 60


class JobError(Exception):
    """A job step failed; the message carries the step and the tail of its log."""


@dataclass(frozen=True)
class Step:
    """One `mlops-bot ...` invocation; `check=False` lets a step fail and the job go on (train -> card)."""

    args: tuple[str, ...]
    check: bool = True


@dataclass
class LocalExecutor:
    work_dir: Path
    github_api_url: str
    tracking_uri: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    keep_workdirs: bool = False

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
        """Clone `clone_url` at `checkout` (on local `branch` when given) and run `steps` in it.

        `files` are written into the job directory first (e.g. an Actions-style event file); `{job_dir}` and
        `{repo_dir}` in step arguments and `env` values are replaced by the real paths. Returns each step's exit
        code. Raises JobError when a checked step fails.
        """
        root = self.work_dir.resolve() / "jobs" / _safe(job_id)
        if root.exists():
            shutil.rmtree(root)  # a retried job starts from a clean clone
        root.mkdir(parents=True)
        repo_dir = root / "repo"
        for name, content in (files or {}).items():
            (root / name).write_text(content)
        job_env = self._env(token, repo, clone_url)
        job_env.update({k: v.replace("{job_dir}", str(root)) for k, v in (env or {}).items()})
        env = job_env
        try:
            self._git(["clone", "--quiet", "--no-checkout", clone_url, str(repo_dir)], env=env, cwd=root)
            if branch:
                self._git(["checkout", "--quiet", "-B", branch, checkout], env=env, cwd=repo_dir)
            else:
                self._git(["checkout", "--quiet", "--detach", checkout], env=env, cwd=repo_dir)
            codes = []
            for n, step in enumerate(steps):
                started = time.perf_counter()
                log_path = root / f"step{n}-{step.args[0]}.log"
                cmd = [
                    sys.executable,
                    "-m",
                    "bot",
                    *(
                        a.replace("{repo_dir}", str(repo_dir)).replace("{job_dir}", str(root))
                        for a in step.args
                    ),
                ]
                with log_path.open("w") as out:
                    code = subprocess.run(
                        cmd, cwd=repo_dir, env=env, stdout=out, stderr=subprocess.STDOUT
                    ).returncode
                log.info(
                    "job %s step %s exited %s in %.1fs",
                    job_id,
                    step.args[0],
                    code,
                    time.perf_counter() - started,
                )
                codes.append(code)
                if code != 0 and step.check:
                    raise JobError(f"`mlops-bot {' '.join(step.args[:1])}` exited {code}:\n{_tail(log_path)}")
            return codes
        finally:
            if not self.keep_workdirs:
                shutil.rmtree(repo_dir, ignore_errors=True)

    def _env(self, token: str, repo: str, clone_url: str) -> dict[str, str]:
        env = dict(os.environ)
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

    @staticmethod
    def _git(args: list[str], *, env: Mapping[str, str], cwd: Path) -> None:
        done = subprocess.run(["git", *args], cwd=cwd, env=dict(env), capture_output=True, text=True)
        if done.returncode != 0:
            raise JobError(f"git {args[0]} failed: {done.stderr.strip()[-2000:]}")


def _safe(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", job_id)[:120]


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
