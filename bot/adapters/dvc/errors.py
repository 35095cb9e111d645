"""What can go wrong with DVC: the exceptions are values of bot/core/dvc.py (the port raises them); making the
one line a broken dvc.yaml or dvc.lock deserves is the adapter's."""

from __future__ import annotations

from pathlib import Path

from bot.core.dvc import (
    LOCK_FILE,
    DvcError,
    DvcFileError,
    DvcMetricsError,
    DvcMissingDataError,
    DvcRemoteError,
    DvcStageError,
    GitError,
)

__all__ = [
    "DvcError",
    "DvcFileError",
    "DvcMetricsError",
    "DvcMissingDataError",
    "DvcRemoteError",
    "DvcStageError",
    "GitError",
    "dvc_file_problem",
]


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
