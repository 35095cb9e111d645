"""Fixtures for the pure core's tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def snapshot() -> Callable[[str, str], None]:
    """Compare text with tests/core/snapshots/NAME; `UPDATE_SNAPSHOTS=1 pytest ...` rewrites them."""

    def check(name: str, text: str) -> None:
        path = SNAPSHOTS / name
        if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if os.environ.get("UPDATE_SNAPSHOTS") != "1":
                pytest.fail(f"snapshot {name} did not exist; written now, check it and run again")
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (
            f"{name} changed; if on purpose, run with UPDATE_SNAPSHOTS=1 and review the diff"
        )

    return check
