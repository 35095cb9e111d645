"""Facts read from a `dvc.lock` text: the desired state of a model is its output hash in the merged lock.

https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#dvclock-file
"""

from __future__ import annotations

import hashlib
import io
from typing import Any


def lock_hash(text: str) -> str:
    """A stable id of the whole lock file (what tags a run's inputs)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def output_hash(text: str, stage: str, path: str) -> str | None:
    """The md5 DVC recorded for `path` among `stage`'s outs; None when the lock does not have it."""
    for out in _stage(text, stage).get("outs") or []:
        if isinstance(out, dict) and _same(out.get("path"), path):
            value = out.get("md5") or out.get("hash")
            return str(value) if value else None
    return None


def input_hashes(text: str, stage: str) -> dict[str, str]:
    """`stage`'s deps -> md5: the data lineage shown on the card."""
    deps = _stage(text, stage).get("deps") or []
    return {str(d["path"]): str(d.get("md5", "")) for d in deps if isinstance(d, dict) and "path" in d}


def _stage(text: str, stage: str) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(io.StringIO(text)) or {}
    stages = data.get("stages") if isinstance(data, dict) else None
    found = (stages or {}).get(stage)
    return found if isinstance(found, dict) else {}


def _same(a: object, b: str) -> bool:
    return str(a or "").lstrip("./") == b.lstrip("./")
