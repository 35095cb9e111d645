"""`mlops-bot config check [PATH]` and `mlops-bot config schema`.

`check` validates a repository config the way the bot will read it (exit 0 with a one-line summary, or exit 1
with each problem and its line); `schema` prints the JSON Schema, for editors and CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.core.config import CONFIG_PATH, ConfigError, RepoConfig, config_schema, load_config


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="check a repository config, or print its JSON Schema")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION")
    check = actions.add_parser("check", help=f"validate a config file (default {CONFIG_PATH})")
    check.add_argument("path", nargs="?", default=CONFIG_PATH, help=f"config file (default: {CONFIG_PATH})")
    check.set_defaults(func=run_check)
    schema = actions.add_parser("schema", help="print the config's JSON Schema")
    schema.set_defaults(func=run_schema)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_check(args: argparse.Namespace) -> int:
    path = Path(args.path)
    shown = str(args.path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"{shown}: no such file (the bot reads {CONFIG_PATH} on the default branch)", file=sys.stderr)
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{shown}: cannot read it: {exc}", file=sys.stderr)
        return 1
    try:
        config = load_config(text, shown)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{shown}: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(
            f"{shown}: {count} problem{'s' if count != 1 else ''}; the bot will not act on this config",
            file=sys.stderr,
        )
        return 1
    problems = _template_problems(config, path)
    if problems:
        for problem in problems:
            print(f"{shown}: {problem}", file=sys.stderr)
        return 1
    print(f"{shown}: ok — {summary(config)}")
    return 0


def summary(config: RepoConfig) -> str:
    """One line saying what the bot will do with this config."""
    names = ", ".join(m.name for m in config.models)
    models = f"{len(config.models)} model{'s' if len(config.models) != 1 else ''}" + (
        f" ({names})" if names else ""
    )
    gated = sum(len(m.metrics) for m in config.models)
    drift = sum(1 for m in config.models if m.drift is not None)
    promotion = "promotes on merge" if config.promotion.on_merge else "promotes on /promote only"
    drift_part = f"drift checks for {drift} model(s)" if drift else "no drift checks"
    return f"{models}, {gated} gated metric(s), {drift_part}, {promotion}"


def _template_problems(config: RepoConfig, config_path: Path) -> list[str]:
    """A repository card template must exist and compile, or every card would fall back or fail."""
    if not config.card_template:
        return []
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    root = config_path.resolve().parent
    if root.name == ".github":
        root = root.parent  # the config sits in .github/; template paths are from the repository root
    template = root / config.card_template
    if not template.is_file():
        return [f"card_template: {config.card_template} does not exist in the repository"]
    try:
        SandboxedEnvironment().parse(template.read_text(encoding="utf-8"))
    except TemplateSyntaxError as exc:
        return [f"card_template: {config.card_template} line {exc.lineno}: {exc.message}"]
    return []


def run_schema(args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2, sort_keys=True))
    return 0
