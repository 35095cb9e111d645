"""`--json` means the same in every command (issue 17): `--json FILE` writes FILE, `--json` alone or `--json -`
prints the JSON, and then stdout holds the JSON only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.adapters.store import Store
from bot.cli import build_parser, main
from bot.cli.output import STDOUT


def _commands_with_json() -> list[tuple[str, ...]]:
    """Every (sub)command path whose parser has a --json option."""
    found: list[tuple[str, ...]] = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        if any("--json" in action.option_strings for action in parser._actions):
            found.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, (*path, name))

    walk(build_parser(), ())
    return found


COMMANDS = _commands_with_json()


def test_the_commands_with_json_are_the_ones_expected() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {
        "train",
        "promote",
        "rollback",
        "reconcile",
        "drift",
        "drift-report",
        "deliveries",
        "db current",
    } <= names


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_json_alone_prints_and_json_file_writes(command: tuple[str, ...]) -> None:
    parser = build_parser()
    action = next(a for a in _parser_of(parser, command)._actions if "--json" in a.option_strings)
    assert action.const == STDOUT and action.nargs == "?" and action.type is Path, command
    assert "`--json` alone or `--json -` prints it" in (action.help or "")


def _parser_of(parser: argparse.ArgumentParser, command: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def test_deliveries_prints_json_only_or_writes_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    Store(url).enqueue("k1", "ping", None, {})
    assert main(["deliveries", "--database-url", url, "--json"]) == 0
    printed = capsys.readouterr().out
    assert [d["id"] for d in json.loads(printed)] == ["job:k1"]  # the whole of stdout is the JSON
    assert main(["deliveries", "--database-url", url, "--json", str(tmp_path / "out" / "d.json")]) == 0
    assert capsys.readouterr().out == ""
    assert [d["id"] for d in json.loads((tmp_path / "out" / "d.json").read_text())] == ["job:k1"]
