"""`dvc repro` of one stage, as a subprocess in the sandbox: its stage commands write straight to the
process's stdout/stderr, and only a child process lets us keep the tail of the log of a failing stage."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO

from bot.adapters.dvc.errors import DvcStageError
from bot.adapters.dvc.values import ReproResult
from bot.adapters.project_env import ProjectEnvError, project_python
from bot.adapters.sandbox import Sandbox, StageTimeout, escaping_links
from bot.core.isolation import stage_environment
from bot.core.scrub import scrub

LOG_TAIL_LINES = 60

# The line DVC prints before it executes a stage command; a stage restored from the run cache or
# skipped as unchanged prints something else. It is how we tell "trained" from "nothing ran".
_RUNNING_STAGE = re.compile(r"^Running stage '(?P<stage>[^']+)'", re.MULTILINE)
_ERROR_LINE = re.compile(r"^ERROR: (?P<message>.+)$", re.MULTILINE)


def _echo_to(echo: IO[str] | None) -> Callable[[str], None]:
    def write(line: str) -> None:
        if echo is not None:
            echo.write(line)
            echo.flush()

    return write


def run_repro(
    root: Path,
    stage: str,
    *,
    targets: Iterable[str] = (),
    echo: IO[str] | None = None,
    sandbox: Sandbox | None = None,
    pass_env: Iterable[str] = (),
    extra_env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    requirements: Path | None = None,
) -> ReproResult:
    """`dvc repro <stage>` in `root` (see `DvcProject.repro`, which releases its handle on the repo first)."""
    sandbox = sandbox or Sandbox.from_environment(os.environ, root)
    if timeout_s is not None:  # the repository's own timeout, within the bot's ceiling
        ceiling = sandbox.timeout_s
        sandbox = dataclasses.replace(sandbox, timeout_s=min(timeout_s, ceiling) if ceiling else timeout_s)
    env = stage_environment(
        os.environ, home=str(sandbox.home), tmp=str(sandbox.tmp), pass_env=pass_env, extra=extra_env
    )
    if requirements is not None:  # the project's own Python first on the stages' PATH
        try:
            venv = project_python(requirements, sandbox, cwd=root, env=env, on_line=_echo_to(echo))
        except ProjectEnvError as exc:
            raise DvcStageError(
                stage, 1, scrub(str(exc), roots=[str(root)]), reason=str(exc).split("\n")[0]
            ) from exc
        env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", os.defpath)])
        env["VIRTUAL_ENV"] = str(venv)
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    ran: list[str] = []

    def on_line(line: str) -> None:
        tail.append(line.rstrip("\n"))
        if match := _RUNNING_STAGE.match(line):
            ran.append(match["stage"])
        if echo is not None:
            echo.write(line)
            echo.flush()

    try:
        returncode = sandbox.run(
            [sys.executable, "-m", "dvc", "repro", *(list(targets) or [stage])],
            cwd=root,
            env=env,
            on_line=on_line,
        )
    except StageTimeout as exc:
        raise DvcStageError(stage, -9, scrub("\n".join(tail), roots=[str(root)]), reason=str(exc)) from exc
    # The tail is quoted on the PR's card: no credential, no path of the bot host.
    log_tail = scrub("\n".join(tail), roots=[str(root), str(root.resolve())])
    if returncode != 0:
        errors = _ERROR_LINE.findall(log_tail)
        raise DvcStageError(stage, returncode, log_tail, reason=errors[-1] if errors else "")
    if escaping := escaping_links(root):
        raise DvcStageError(
            stage,
            returncode,
            log_tail,
            reason="the stage left symlinks that point outside the repository, which the bot does not "
            f"follow: {', '.join(escaping[:5])}",
        )
    return ReproResult(stage=stage, ran=tuple(ran), log_tail=log_tail)
