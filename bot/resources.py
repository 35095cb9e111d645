"""Where the shipped templates are: `templates/` beside `bot/` in a checkout, `bot/templates/` in a wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "mlops-bot's templates folder is missing from this installation; reinstall the package"
    )


def template_path(*parts: str) -> Path:
    return templates_dir().joinpath(*parts)
