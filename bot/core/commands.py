"""The comment-command grammar: `/train`, `/card`, `/promote`, `/rollback`, `/drift`, `/ok-to-test`, `/help`.

Rules (Prow / Atlantis style), which `/help` repeats to users:
- A command is a line that starts with `/` (up to three spaces of indentation allowed, as in a markdown
  paragraph). Lines inside fenced code blocks (``` or ~~~), indented code blocks, quotes (`> /promote`) and
  HTML comments are never commands, so quoting or showing a command does not run it.
- Only the FIRST command line in a comment counts; later ones are ignored (one comment, one action, one
  answer). Lines starting with `/` that look like nothing of ours (`/assign`, `/path/to/file`) are skipped
  so other bots' commands pass through.
- Verbs are case-insensitive; arguments are split shell-style (quotes group words) but never evaluated:
  `${{ ... }}`, `$(...)` or `;` are plain text and fail validation as model names.
- A near miss (`/promot`) is answered "did you mean /promote?"; an unknown flag or a bad value is answered
  with the command's usage.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.config import Permissions
from bot.core.markdown import code
from bot.core.markers import reply_marker
from bot.core.permissions import Permission

VERBS = ("train", "card", "promote", "rollback", "drift", "ok-to-test", "help")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # the pattern of ModelSpec.name
VERSION = re.compile(r"^0*[1-9][0-9]{0,8}$")  # MLflow model versions are positive integers
ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # the pattern of promotion.environments
MAX_LINE = 1_000  # a longer command line is not a command anyone typed
CANARY_SHARE = re.compile(r"^(?P<percent>[0-9]{1,2}(?:\.[0-9]{1,2})?)%?$")  # `--canary 10%`: 0 < share < 100


@dataclass(frozen=True)
class Command:
    verb: str
    model: str | None = None
    dry_run: bool = False
    to_version: str | None = None
    raw: str = ""
    environment: str | None = None  # `/promote --to ENV`: the environment to move the model on to
    canary_percent: float | None = None  # `/promote --canary 10%`: the candidate's share of requests


@dataclass(frozen=True)
class Reply:
    """Something to answer instead of running: a usage error or a did-you-mean."""

    text: str
    verb: str | None = None


@dataclass(frozen=True)
class CommandHelp:
    """One command's help, as data: it feeds `/help`, usage errors and the docs."""

    verb: str
    usage: str
    description: str
    examples: tuple[str, ...]
    flags: tuple[str, ...] = ()
    takes_model: bool = True
    takes_version: bool = False


HELP: dict[str, CommandHelp] = {
    h.verb: h
    for h in (
        CommandHelp(
            "train",
            "/train [MODEL]",
            "Train the model on this pull request's head commit (`dvc repro`) and refresh its card.",
            ("/train", "/train churn"),
        ),
        CommandHelp(
            "card",
            "/card [MODEL]",
            "Rebuild the model card from the latest run, without training.",
            ("/card churn",),
        ),
        CommandHelp(
            "promote",
            "/promote [MODEL] [--to ENVIRONMENT] [--canary PERCENT] [--dry-run]",
            "Promote this pull request's candidate to champion. `--to production` moves the version in the "
            "previous environment (e.g. staging) on, where `promotion.environments` lists more than one. "
            "`--canary 10%` serves the candidate beside the champion and routes that share of requests to it "
            "(sticky by the `X-Canary-Key` header when sent); `/promote --to production` ends the canary, "
            "`/rollback` drops it. `--dry-run` shows the plan and the gate verdicts and changes nothing.",
            (
                "/promote churn --dry-run",
                "/promote churn",
                "/promote churn --to production",
                "/promote churn --canary 10%",
            ),
            flags=("--to", "--canary", "--dry-run"),
        ),
        CommandHelp(
            "rollback",
            "/rollback [MODEL] [--to VERSION] [--dry-run]",
            "Move the champion alias back to the previous version (or to VERSION) and record a deployment.",
            ("/rollback churn", "/rollback churn --to 3 --dry-run"),
            flags=("--to", "--dry-run"),
            takes_version=True,
        ),
        CommandHelp(
            "drift",
            "/drift [MODEL]",
            "Check production data against the champion's training data now, and answer with the verdict.",
            ("/drift churn",),
        ),
        CommandHelp(
            "ok-to-test",
            "/ok-to-test",
            "Allow training for a pull request from a fork, at the head commit it had when you commented; "
            "a later push needs a new approval.",
            ("/ok-to-test",),
            takes_model=False,
        ),
        CommandHelp("help", "/help", "Show this help.", ("/help",), takes_model=False),
    )
}

_COMMAND_LINE = re.compile(
    # `/train`, or addressed to the bot as Atlantis users type it: `@mlops-bot train`, `@mlops-bot /train`
    r"^ {0,3}(?:/|(?P<mention>@mlops-bot(?:\[bot\])?)[ \t]+/?)(?P<verb>[A-Za-z][A-Za-z0-9_-]*)(?P<args>(?:[ \t].*)?)$"
)
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_QUOTE = re.compile(r"^ {0,3}>")
_INDENTED = re.compile(r"^(?: {4,}|\t)")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)


def parse(body: str) -> Command | Reply | None:
    """The command in a comment body, a reply to give instead, or None when the comment is not for us."""
    for line in command_lines(body):
        match = _COMMAND_LINE.match(line)
        if not match:
            continue
        word = match.group("verb").lower()
        if word in HELP:
            return _parse_args(word, match.group("args"), line.strip())
        guess = difflib.get_close_matches(word, VERBS, n=1, cutoff=0.75)
        if not guess and match.group("mention"):  # addressed to us: an unknown word still gets an answer
            return Reply(
                f"{reply_marker('did-you-mean')}\n`{word}` is not a command I know. Type `/help` for all commands.",
                verb="help",
            )
        if guess:
            return Reply(
                f"{reply_marker('did-you-mean')}\n`/{word}` is not a command I know. "
                f"Did you mean `/{guess[0]}`?\n\n"
                f"Usage: `{HELP[guess[0]].usage}`. Type `/help` for all commands.",
                verb=guess[0],
            )
    return None


def command_lines(body: str) -> list[str]:
    """The lines of `body` that may carry a command: not in code, quotes or HTML comments."""
    body = _HTML_COMMENT.sub("", body.replace("\r\n", "\n").replace("\r", "\n"))
    lines: list[str] = []
    fence = ""
    for line in body.split("\n"):
        m = _FENCE.match(line)
        if fence:
            # A fence closes only with the same character, at least as long, and nothing after it.
            closing = (
                m is not None and m.group("fence")[0] == fence[0] and len(m.group("fence")) >= len(fence)
            )
            if closing and m is not None and not m.group("info").strip():
                fence = ""
            continue
        if m and not (m.group("fence")[0] == "`" and "`" in m.group("info")):
            fence = m.group("fence")
            continue
        # Indented lines (indented code, or a paragraph's continuation) and quotes are never commands.
        if line.strip() and not _INDENTED.match(line) and not _QUOTE.match(line) and len(line) <= MAX_LINE:
            lines.append(line)
    return lines


def _parse_args(verb: str, args_text: str, raw: str) -> Command | Reply:
    spec = HELP[verb]
    if verb == "help":
        return Command("help", raw=raw)  # `/help anything` still helps
    try:
        args = shlex.split(args_text, comments=False, posix=True)
    except ValueError as exc:
        return _usage(spec, f"the arguments could not be read ({exc}); check the quotes")
    model: str | None = None
    dry_run = False
    target: str | None = None  # `--to`'s: an environment (promote) or a version (rollback)
    canary: float | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg.startswith("-"):
            name, has_value, value = arg.partition("=")
            if name not in spec.flags:
                guess = difflib.get_close_matches(name, spec.flags, n=1, cutoff=0.6)
                hint = f"; did you mean `{guess[0]}`?" if guess else ""
                known = f"{', '.join(f'`{f}`' for f in spec.flags)}" if spec.flags else "none"
                return _usage(spec, f"unknown flag {code(name, max_len=60)}{hint} (flags: {known})")
            if not has_value and name in _VALUED_FLAGS:
                value = args[i] if i < len(args) else ""
                i += 1
            flag = _flag(spec, name, bool(has_value), value)
            if isinstance(flag, Reply):
                return flag
            if name == "--dry-run":
                dry_run = True
            elif name == "--to":
                target = str(flag)
            elif name == "--canary":
                canary = float(flag)
            continue
        if not spec.takes_model:
            return _usage(spec, f"`/{verb}` takes no arguments, got {code(arg, max_len=60)}")
        if model is not None:
            return _usage(spec, f"one model at a time: got {code(model)} and {code(arg, max_len=60)}")
        if not MODEL_NAME.match(arg):
            return _usage(
                spec,
                f"{code(arg, max_len=60)} is not a model name "
                "(letters, digits, `.`, `_`, `-`; as in the config)",
            )
        model = arg
    promoting = verb == "promote"
    if canary is not None and target is not None:
        return _usage(spec, "`--canary` starts a canary and `--to` moves a model on: one at a time")
    return Command(
        verb,
        model=model,
        dry_run=dry_run,
        to_version=None if promoting else target,
        raw=raw,
        environment=target if promoting else None,
        canary_percent=canary,
    )


def _canary_share(spec: CommandHelp, value: str) -> float | Reply:
    """`--canary`'s percent of requests, above 0 and below 100 (a whole promotion is `/promote`)."""
    match = CANARY_SHARE.match(value)
    percent = float(match.group("percent")) if match else 0.0
    if match is None or not 0 < percent < 100:
        return _usage(
            spec,
            f"`--canary` needs the share of requests for the candidate, above 0 and below 100, like `10%`, "
            f"not {code(value, max_len=60) if value else 'nothing'}",
        )
    return percent


_VALUED_FLAGS = ("--to", "--canary")


def _flag(spec: CommandHelp, name: str, has_value: bool, value: str) -> bool | str | float | Reply:
    """One flag's value as the command keeps it, or the usage answer when it is not one."""
    if name == "--dry-run":
        return _usage(spec, "`--dry-run` takes no value") if has_value else True
    if name == "--to":
        return _to_target(spec, value) if value else _usage(spec, f"`--to` needs {_TO_WANTS[spec.verb]}")
    return _canary_share(spec, value)


# What `--to` names: `/promote --to ENVIRONMENT` moves a model on; `/rollback --to VERSION` moves it back.
_TO_WANTS = {
    "promote": "an environment name, e.g. `--to production`",
    "rollback": "a version number, e.g. `--to 3`",
}


def _to_target(spec: CommandHelp, value: str) -> str | Reply:
    """`--to`'s value as the command keeps it (an environment name, or a version without leading zeros)."""
    if spec.verb == "promote":
        if ENVIRONMENT.match(value):
            return value
        return _usage(
            spec, f"`--to` needs an environment name like `production`, not {code(value, max_len=60)}"
        )
    if VERSION.match(value):
        return str(int(value))
    return _usage(spec, f"`--to` needs a version number like `3`, not {code(value, max_len=60)}")


def _usage(spec: CommandHelp, problem: str) -> Reply:
    examples = "\n".join(f"- `{e}`" for e in spec.examples)
    text = (
        f"{reply_marker('usage', spec.verb)}\n"
        f"I could not run `/{spec.verb}`: {problem}.\n\n"
        f"Usage: `{spec.usage}`. {spec.description}\n\nExamples:\n{examples}\n"
    )
    return Reply(text, verb=spec.verb)


# ---------------------------------------------------------------------------------------------------------
# Who may run what


def may_run(verb: str, actual: Permission, permissions: Permissions) -> tuple[bool, str]:
    """Whether someone with `actual` permission may run `verb`, and why (the reason is shown to users)."""
    if verb not in HELP:
        return False, f"{code('/' + verb, max_len=40)} is not a command"
    needed = permissions.required(verb)
    if needed == Permission.NONE:
        return True, f"`/{verb}` is open to everyone"
    if actual >= needed:
        return True, f"`/{verb}` needs {needed} permission; you have {actual}"
    return False, f"`/{verb}` needs {needed} permission or higher on this repository; you have {actual}"


def who_may(verb: str, permissions: Permissions) -> str:
    needed = permissions.required(verb)
    if needed == Permission.NONE:
        return "anyone"
    if needed == Permission.ADMIN:
        return "admin"
    return f"{needed} and above"


EXAMPLE_MODEL = "churn"  # the model name the help data's examples use


def render_help(permissions: Permissions, model_names: Sequence[str] = ()) -> str:
    """The `/help` answer: every command, what it does, who may use it here (from the config), examples
    (naming the repository's own first model when it has one)."""
    from bot.core.markdown import render_template

    model = model_names[0] if model_names else EXAMPLE_MODEL
    rows = [
        {
            "usage": h.usage,
            "description": h.description,
            "who": who_may(h.verb, permissions),
            "examples": tuple(e.replace(f" {EXAMPLE_MODEL}", f" {model}") for e in h.examples),
        }
        for h in HELP.values()
    ]
    return render_template("comments/help.md.j2", {"marker": reply_marker("help"), "rows": rows})
