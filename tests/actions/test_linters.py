"""actionlint, zizmor and check-jsonschema's bundled GitHub schemas find nothing in the actions, the
workflow templates or the project's own CI. All three run offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.actions.action_files import (
    ACTION_FILES,
    ALL_FILES,
    ALL_WORKFLOWS,
    REPO_ROOT,
    TEMPLATE_WORKFLOWS,
    rel,
    tool,
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


ZIZMOR_CONFIG = Path(__file__).parent / "zizmor.yml"  # each exception with its reason


def _zizmor(*files: str, persona: str = "regular") -> list[dict[str, Any]]:
    # Files are named one by one: given a folder, zizmor only collects workflows under .github/workflows.
    result = _run(
        tool("zizmor"),
        "--offline",
        "--config",
        str(ZIZMOR_CONFIG),
        "--persona",
        persona,
        "--min-severity",
        "medium",
        "--format",
        "json",
        *files,
    )
    assert result.stdout.lstrip().startswith("["), result.stderr  # findings (if any) are asserted on below
    findings: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return findings


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_finds_nothing_of_medium_severity_or_more(persona: str) -> None:
    findings = _zizmor(*(rel(p) for p in ALL_FILES), ".github/dependabot.yml", persona=persona)
    assert findings == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]


def init_workflows(root: Path, *args: str) -> list[Path]:
    """The workflows as `mlops-bot init` writes them into a fresh repository."""
    from bot.cli import main

    assert main(["init", "--dir", str(root), *args]) == 0
    return sorted((root / ".github" / "workflows").glob("*.yml"))


INIT_VARIANTS = {
    "defaults": [],
    "gpu": ["--runner", "self-hosted,gpu", "--timeout", "240"],
    "sha": ["--actions-ref", "0123456789abcdef0123456789abcdef01234567"],
}


@pytest.mark.parametrize("args", INIT_VARIANTS.values(), ids=INIT_VARIANTS)
def test_the_workflows_init_writes_pass_actionlint_and_zizmor(tmp_path: Path, args: list[str]) -> None:
    workflows = init_workflows(tmp_path / "repo", *args)
    # The GPU runner's own label is declared the way a repository with such runners declares it.
    (tmp_path / "actionlint.yaml").write_text("self-hosted-runner:\n  labels: [gpu]\n")
    lint = _run(
        tool("actionlint"),
        "-no-color",
        "-config-file",
        str(tmp_path / "actionlint.yaml"),
        *map(str, workflows),
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    findings = _zizmor(*map(str, workflows), persona="auditor")
    assert findings == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]


def test_actionlint_knows_an_undeclared_runner_label(tmp_path: Path) -> None:
    """The linters see the written labels: without the declaration, `gpu` is an unknown label."""
    workflows = init_workflows(tmp_path / "repo", "--runner", "self-hosted,gpu")
    lint = _run(tool("actionlint"), "-no-color", *map(str, workflows))
    assert lint.returncode != 0 and 'label "gpu" is unknown' in lint.stdout


def test_zizmor_config_hides_nothing_it_does_not_explain() -> None:
    """Without the config the auditor sees exactly the exceptions the config gives reasons for."""
    result = _run(
        tool("zizmor"),
        "--offline",
        "--no-config",
        "--persona",
        "auditor",
        "--min-severity",
        "medium",
        "--format",
        "json",
        *(rel(p) for p in TEMPLATE_WORKFLOWS),
    )
    idents = sorted({f["ident"] for f in json.loads(result.stdout or "[]")})
    assert idents == ["artipacked", "secrets-outside-env", "unpinned-uses"]
    explained = ZIZMOR_CONFIG.read_text()
    assert all(f"  {ident}:" in explained for ident in idents)


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
