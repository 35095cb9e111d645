"""Reading tables: CSV or Parquet, a file, a folder or a glob, from the workspace or through DVC (at a
git revision, or a file the workspace lacks); every problem a `DriftDataError` naming the file."""

from __future__ import annotations

import glob as globbing
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.adapters.evidently.errors import DriftDataError

if TYPE_CHECKING:
    import pandas as pd

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def load_table(path_or_glob: str, *, root: Path) -> pd.DataFrame:
    """A CSV/Parquet file, a folder of them or a glob (concatenated), relative to `root`.

    A file missing from the workspace but tracked by DVC (or named by its `.dvc` pointer) is read
    through `dvc.api.open`, which takes it from the DVC cache or the remote.
    """
    import pandas as pd

    if path_or_glob.endswith(".dvc"):
        path_or_glob = path_or_glob[: -len(".dvc")]
    target = root / path_or_glob
    if globbing.has_magic(path_or_glob):
        files = sorted(p for p in root.glob(path_or_glob) if p.is_file() and _is_table(p.name))
        if not files:
            raise DriftDataError(f"no CSV or Parquet file matches {path_or_glob!r} under {root}")
    elif target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file() and _is_table(p.name))
        if not files:
            raise DriftDataError(f"folder {path_or_glob!r} holds no CSV or Parquet file")
    elif target.is_file():
        files = [target]
    else:
        return _read_through_dvc(path_or_glob, repo=root, rev=None)
    inside = root.resolve()
    for p in files:  # the config confines the path; a symlink in the checkout must not lead out
        if not p.resolve().is_relative_to(inside):
            raise DriftDataError(f"{p.relative_to(root)} is a link that leaves the repository; refusing it")

    frames = [
        _read_local(p, shown=str(p.relative_to(root)) if p.is_relative_to(root) else str(p)) for p in files
    ]
    first_columns = list(frames[0].columns)
    for p, frame in zip(files[1:], frames[1:], strict=True):
        if list(frame.columns) != first_columns:
            raise DriftDataError(
                f"{p.name} has columns different from {files[0].name}; files matched by "
                f"{path_or_glob!r} must share one header"
            )
    table = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(table) == 0:
        raise DriftDataError(f"{path_or_glob} has a header but no rows")
    return table


def reference_at(root: Path, path: str, rev: str) -> pd.DataFrame:
    """The table at `path` as it was at git revision `rev` (DVC-tracked or plain git), e.g. the
    champion's training data at the sha it was trained on."""
    if path.endswith(".dvc"):
        path = path[: -len(".dvc")]
    return _read_through_dvc(path, repo=root, rev=rev)


def _is_table(name: str) -> bool:
    return name.lower().endswith(_CSV_SUFFIXES + _PARQUET_SUFFIXES)


def _read_local(path: Path, *, shown: str) -> pd.DataFrame:
    if not _is_table(path.name):
        raise DriftDataError(
            f"cannot read {shown}: only CSV (.csv, .tsv) and Parquet (.parquet) are supported"
        )
    try:
        if path.stat().st_size == 0:
            raise DriftDataError(f"{shown} is empty (0 bytes)")
        with path.open("rb") as fh:
            return _parse(fh, name=path.name, shown=shown)
    except OSError as exc:
        raise DriftDataError(f"cannot read {shown}: {exc.strerror or exc}") from exc


def _read_through_dvc(path: str, *, repo: Path, rev: str | None) -> pd.DataFrame:
    import dvc.api

    where = f"{path} at {rev}" if rev else path
    if not _is_table(path):
        raise DriftDataError(
            f"cannot read {where}: only CSV (.csv, .tsv) and Parquet (.parquet) are supported"
        )
    try:
        with dvc.api.open(path, repo=str(repo), rev=rev, mode="rb") as fh:
            raw = fh.read()
    except DriftDataError:
        raise
    except Exception as exc:  # DVC raises many types (PathMissingError, RevError, SCMError, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "" if rev else " (not in the workspace, and DVC could not fetch it)"
        raise DriftDataError(f"cannot read {where}{hint}: {reason}") from exc
    if not raw:
        raise DriftDataError(f"{where} is empty (0 bytes)")
    return _parse(io.BytesIO(raw), name=path, shown=where)


def _parse(fh: Any, *, name: str, shown: str) -> pd.DataFrame:
    import pandas as pd

    lower = name.lower()
    try:
        if lower.endswith(_PARQUET_SUFFIXES):
            return pd.read_parquet(fh)
        sep = "\t" if lower.endswith((".tsv", ".tsv.gz")) else ","
        compression = "gzip" if lower.endswith(".gz") else None
        return pd.read_csv(fh, sep=sep, compression=compression)
    except pd.errors.EmptyDataError as exc:
        raise DriftDataError(f"{shown} is empty (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        # pyarrow's ArrowInvalid is a ValueError; a corrupt gzip is an OSError.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DriftDataError(f"cannot read {shown}: {reason}") from exc
