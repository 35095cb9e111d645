"""What can go wrong with DVC, each as an exception whose message says what to do."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.adapters.dvc.values import LOCK_FILE, Remote


class DvcError(Exception):
    """DVC could not do what was asked; the message says what and what to do."""


class GitError(DvcError):
    """A git command failed."""


class DvcStageError(DvcError):
    """A stage command failed; `log_tail` holds the end of its output."""

    def __init__(self, stage: str, returncode: int, log_tail: str, reason: str = "") -> None:
        self.stage = stage
        self.returncode = returncode
        self.log_tail = log_tail
        self.reason = reason
        detail = f": {reason}" if reason else f" (dvc exited with {returncode})"
        super().__init__(f"stage '{stage}' failed{detail}")


class DvcMissingDataError(DvcError):
    """Files DVC needs are neither in the local cache nor on the remote."""

    def __init__(self, paths: Iterable[str], remote: Remote | None) -> None:
        self.paths = sorted(paths)
        self.remote = remote
        where = (
            f"the DVC remote '{remote.name}' ({remote.url})"
            if remote
            else "any DVC remote (none is configured)"
        )
        super().__init__(
            f"not in the local DVC cache nor in {where}: {', '.join(self.paths)}. "
            "Run `dvc push` where these files were produced, then try again."
        )


class DvcMetricsError(DvcError):
    """A metrics file is missing or cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"metrics file {path}: {reason}")


class DvcRemoteError(DvcError):
    """The DVC remote cannot be used (missing plugin, unreachable, refuses writes); one line saying what to do."""


class DvcFileError(DvcError):
    """dvc.yaml or dvc.lock cannot be read by this DVC; the message says which and how to fix it."""


_OLD_LOCK_HINT = (
    "dvc.lock is in the format of DVC 1.x, which this DVC (3.x) cannot read. Regenerate it with a current "
    "DVC: delete dvc.lock and run `dvc repro` (or `dvc commit -f` when the outputs are in your workspace), "
    "then commit the new dvc.lock"
)


def dvc_file_problem(root: Path, exc: Exception) -> str:
    """One line: which DVC file is invalid, why, and what to do. A DVC 1.x lock file has no `schema:` key."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "dvc.lock" in text:
        from ruamel.yaml import YAML

        try:
            lock = YAML(typ="safe").load((root / LOCK_FILE).read_text())
        except Exception:  # unreadable YAML: the generic message below says so
            lock = None
        if isinstance(lock, dict) and "schema" not in lock:
            return _OLD_LOCK_HINT
        return f"{text.rstrip('.')}: fix dvc.lock or regenerate it with `dvc repro`, then commit it"
    inner = getattr(exc, "exc", None) or exc.__cause__
    details = "; ".join(str(e) for e in (getattr(inner, "errors", None) or [])[:3])
    what = f" ({details})" if details else ""
    return f"{text.rstrip('.')}{what}: fix it (`dvc repro --dry` shows the same error)"
