"""What commands print and write with `--json`: for people and scripts, so never the hidden markers the bot
keys its GitHub replies by."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, TextIO

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


# `--json` means the same in every command: `--json FILE` writes the JSON to FILE, `--json` alone (or `--json -`)
# prints it, and then the lines for people go to stderr so stdout is JSON only.
STDOUT = Path("-")


def add_json_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--json",
        type=Path,
        nargs="?",
        const=STDOUT,
        metavar="FILE",
        help=f"write {what} as JSON to FILE; `--json` alone or `--json -` prints it (other output to stderr)",
    )


def human(args: argparse.Namespace) -> TextIO:
    """Where a command's lines for people go: stderr when its JSON goes to stdout."""
    return sys.stderr if getattr(args, "json", None) == STDOUT else sys.stdout


def write_text(path: Path, text: str) -> None:
    """`text` to the `--json` target: the file (its folder made), or stdout."""
    if path == STDOUT:
        sys.stdout.write(text.rstrip("\n") + "\n")
        sys.stdout.flush()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(plain(value), indent=2))
