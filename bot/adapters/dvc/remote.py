"""The DVC remote and the local cache: a remote's failure as one line, a checkout from the cache alone."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.adapters.dvc.errors import DvcError, DvcRemoteError
from bot.adapters.dvc.values import Remote
from bot.core.scrub import scrub

# DVC's own words when a remote's filesystem plugin is absent: "gdrive is supported, but requires
# 'dvc-gdrive' to be installed".
_MISSING_PLUGIN = re.compile(r"requires '(?P<package>dvc-[a-z0-9-]+)' to be installed")
_UNSAVED = "Can't remove the following unsaved files without confirmation"


@contextlib.contextmanager
def remote_errors(remote: Remote, action: str) -> Iterator[None]:
    """A remote that fails becomes one line naming it and the fix, never a traceback."""
    from dvc.exceptions import DvcException

    where = f"the DVC remote '{remote.name}' ({scrub(remote.url)})"
    try:
        yield
    except ImportError as exc:
        match = _MISSING_PLUGIN.search(str(exc))
        if match is None:
            raise
        package = match["package"]
        raise DvcRemoteError(
            f"{action}: {where} needs the DVC plugin {package}, which is not installed: "
            f"`pip install {package}` where mlops-bot runs"
        ) from exc
    except (DvcException, OSError) as exc:
        if isinstance(exc, DvcError):
            raise
        reason = scrub(" ".join(str(exc).split())) or type(exc).__name__
        raise DvcRemoteError(
            f"{action} to {where} failed ({reason[:200]}): check the remote's URL and credentials, "
            f"then run `{action}` by hand"
        ) from exc


def unsaved_files(message: str, root: Path) -> list[str] | None:
    """The files of DVC's "unsaved files ... Use `--force`" refusal, relative to `root`; None for another error."""
    if _UNSAVED not in message:
        return None
    paths = []
    for line in message.split("\n")[1:]:
        line = line.strip()
        if line:
            path = Path(line)
            paths.append(
                str(path.relative_to(root)) if path.is_absolute() and path.is_relative_to(root) else line
            )
    return paths


def checkout_from_cache(repo: Any, root: Path, stage: str | None, rebuildable: set[str]) -> list[str]:
    """`dvc checkout` of `stage` (everything when None) with `repo`, a Repo that knows no remote; the files
    the cache lacks."""
    from dvc.exceptions import CheckoutError, DvcException

    targets = [stage] if stage else None
    try:
        try:
            repo.checkout(targets=targets, with_deps=bool(stage))
        except DvcException as exc:
            unsaved = unsaved_files(str(exc), root)
            if unsaved is None:
                raise
            kept = [p for p in unsaved if not any(p == o or p.startswith(o + "/") for o in rebuildable)]
            if kept:
                raise DvcError(
                    f"these files differ from dvc.lock and are not in the DVC cache: {', '.join(kept)}; "
                    "`dvc commit` them to keep them, or `dvc checkout --force` to drop them"
                ) from exc
            # outputs of the pipeline a failed run left behind: repro rebuilds them anyway
            repo.checkout(targets=targets, with_deps=bool(stage), force=True)
    except CheckoutError as exc:
        return [str(p) for p in exc.target_infos]
    return []
