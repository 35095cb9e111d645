"""What the action tests share: where the action and workflow files are, a YAML loader that keeps `on:`
a string (YAML 1.2), and the linters' binaries next to the test interpreter."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ACTION_FILES = sorted((REPO_ROOT / "actions").glob("*/action.yml"))
TEMPLATE_WORKFLOWS = sorted((REPO_ROOT / "templates" / "workflows").glob("*.yml"))
PROJECT_WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
ALL_WORKFLOWS = TEMPLATE_WORKFLOWS + PROJECT_WORKFLOWS
ALL_FILES = ACTION_FILES + ALL_WORKFLOWS


def load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def tool(name: str) -> str:
    """The linter's binary: the venv's (beside this interpreter) first, then PATH; skip when absent."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (it comes with the dev extra: pip install -e '.[dev]')")
    return found
