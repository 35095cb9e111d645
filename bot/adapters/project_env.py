"""The project's own Python for its stages: a virtual environment built from the repository's requirements
(`training.python: requirements.txt`), so a stage that needs packages the bot does not have (dvclive, a
pinned scikit-learn) runs unchanged.

The environment is built by the stage user in the sandbox (installing requirements runs package code), and
kept between jobs by the hash of the requirements and the Python version — only when the requirements name
packages alone: a local path, `-e`, a VCS or file URL is the pull request's own code, so such an environment
is built for the job and thrown away with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.adapters.sandbox import Sandbox

# Lines that install something other than a named package from an index.
_NOT_A_PACKAGE = re.compile(
    r"(?m)^\s*(?:-e\b|--editable\b|\.{0,2}/|[A-Za-z]:\\|\S+://|\S+\s*@\s*\S+://|-r\b|-c\b)"
)


class ProjectEnvError(Exception):
    """The project's environment could not be built; the message quotes pip's last lines."""


def project_python(
    requirements: Path,
    sandbox: Sandbox,
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: Callable[[str], None] = lambda _: None,
) -> Path:
    """The folder of a virtual environment with `requirements` installed (its `bin/` goes first on PATH)."""
    text = requirements.read_text()
    key = hashlib.sha256(f"{sys.version}\n{text}".encode()).hexdigest()[:24]
    cacheable = not _NOT_A_PACKAGE.search(text)
    cache = sandbox.venvs or sandbox.home.parent / "venvs"
    final = cache / key if cacheable else sandbox.home.parent / "venv"
    if cacheable and (final / ".ready").is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        cache.chmod(0o711)
    build = cache / f".build-{key}-{secrets.token_hex(4)}" if cacheable else final
    build.mkdir(parents=True, mode=0o755)
    tail: list[str] = []

    def collect(line: str) -> None:
        tail.append(line.rstrip("\n"))
        del tail[:-20]
        on_line(line)

    build_env = {**env, **{k: v for k, v in os.environ.items() if k.startswith("PIP_")}}
    steps = (
        [sys.executable, "-m", "venv", str(build)],
        [str(build / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-r", str(requirements)],
    )  # fmt: skip
    for args in steps:
        if sandbox.run(args, cwd=cwd, env=build_env, on_line=collect, also_owned=[build]) != 0:
            shutil.rmtree(build, ignore_errors=True)
            raise ProjectEnvError(
                f"installing {requirements.name} for the stages failed:\n" + "\n".join(tail[-10:])
            )
    # The stage's umask made it private, and its files go back to the bot once pip ends: the stage's own uid
    # (and, for a kept one, later jobs' uids) must still enter it, or `python` silently falls through to the
    # next one on PATH, the bot's.
    _readable_by_all(build)
    if not cacheable:
        return final
    (build / ".ready").write_text(text)
    try:
        build.rename(final)  # another job may have built the same one meanwhile: keep theirs
    except OSError:
        shutil.rmtree(build, ignore_errors=True)
    return final


def _readable_by_all(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o755)  # noqa: S103  # shared read-only: later jobs run as other uids
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
