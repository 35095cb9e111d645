"""actionlint, zizmor and check-jsonschema's bundled GitHub schemas find nothing in the actions, the
workflow templates or the project's own CI. All three run offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.actions.action_files import (
    ACTION_FILES,
    ALL_FILES,
    ALL_WORKFLOWS,
    REPO_ROOT,
    rel,
    tool,
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_zizmor_finds_nothing_of_medium_severity_or_more() -> None:
    # Files are named one by one: given a folder, zizmor only collects workflows under .github/workflows.
    result = _run(
        tool("zizmor"),
        "--offline",
        "--no-config",
        "--min-severity",
        "medium",
        "--format",
        "json",
        *(rel(p) for p in ALL_FILES),
        ".github/dependabot.yml",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads(result.stdout or "[]")
    assert findings == [], [f["ident"] for f in findings]


def test_zizmor_sees_what_it_is_meant_to_see(tmp_path: Path) -> None:
    """The same call flags an expression in a script, so a clean result above means something."""
    bad = tmp_path / "action.yml"
    bad.write_text(
        "name: bad\ndescription: bad\ninputs:\n  title:\n    description: t\n    default: ''\n"
        'runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo "${{ inputs.title }}"\n'
    )
    result = _run(tool("zizmor"), "--offline", "--no-config", "--format", "json", str(bad))
    assert "template-injection" in {f["ident"] for f in json.loads(result.stdout)}


def test_actionlint_finds_nothing() -> None:
    result = _run(tool("actionlint"), "-no-color", *(rel(p) for p in ALL_WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-actions", ACTION_FILES),
        ("vendor.github-workflows", ALL_WORKFLOWS),
        ("vendor.dependabot", [REPO_ROOT / ".github" / "dependabot.yml"]),
    ],
    ids=["actions", "workflows", "dependabot"],
)
def test_files_match_githubs_schemas(schema: str, files: list[object]) -> None:
    result = _run(tool("check-jsonschema"), "--builtin-schema", schema, *(str(f) for f in files))
    assert result.returncode == 0, result.stdout + result.stderr
