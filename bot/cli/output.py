"""What commands print and write with `--json`: for people and scripts, so never the hidden markers the bot
keys its GitHub replies by."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from bot.core.markers import without_markers


def plain(value: Any) -> Any:
    """`value` (text, lists, dicts, dataclasses) with every string's hidden markers removed."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, str):
        return without_markers(value) if "<!--" in value else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(plain(value), indent=2))
