"""Production data is read only from inside the repository (issue 18 finding 8): the config refuses
absolute and `..` paths; a symlink in the checkout that points out of it is refused where it is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.evidently import DriftDataError, load_table


@pytest.fixture
def root(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("token\nhunter2\n")
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "train.csv").write_text("x\n1\n2\n")
    (repo / "prod.csv").symlink_to(outside / "secret.csv")
    (repo / "prod-dir").symlink_to(outside, target_is_directory=True)
    (repo / "ok.csv").symlink_to(repo / "data" / "train.csv")
    return repo


@pytest.mark.parametrize("configured", ["prod.csv", "*.csv", "prod-dir/secret.csv", "prod-dir"])
def test_a_symlink_leaving_the_repository_is_refused(root: Path, configured: str) -> None:
    with pytest.raises(DriftDataError, match="leaves the repository"):
        load_table(configured, root=root)


def test_a_symlink_inside_the_repository_is_read(root: Path) -> None:
    assert list(load_table("ok.csv", root=root)["x"]) == [1, 2]
