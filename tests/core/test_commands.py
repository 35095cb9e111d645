"""The comment grammar: what counts as a command, and what comes back for everything else."""

from __future__ import annotations

import re
import time

import pytest

from bot.core.commands import HELP, VERBS, Command, Reply, may_run, parse, render_help
from bot.core.config import Permissions
from bot.core.permissions import Permission


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/train", Command("train", raw="/train")),
        ("/train churn", Command("train", model="churn", raw="/train churn")),
        ("/TRAIN churn", Command("train", model="churn", raw="/TRAIN churn")),
        (
            "/Promote churn --dry-run",
            Command("promote", model="churn", dry_run=True, raw="/Promote churn --dry-run"),
        ),
        (
            "/promote --dry-run churn",
            Command("promote", model="churn", dry_run=True, raw="/promote --dry-run churn"),
        ),
        ("/promote", Command("promote", raw="/promote")),
        ("/rollback --to 3", Command("rollback", to_version="3", raw="/rollback --to 3")),
        (
            "/rollback churn --to=12",
            Command("rollback", model="churn", to_version="12", raw="/rollback churn --to=12"),
        ),
        (
            "/rollback churn --to 3 --dry-run",
            Command("rollback", "churn", True, "3", "/rollback churn --to 3 --dry-run"),
        ),
        (
            "/promote churn --to production",
            Command("promote", model="churn", raw="/promote churn --to production", environment="production"),
        ),
        (
            "/promote --to=production --dry-run",
            Command(
                "promote", dry_run=True, raw="/promote --to=production --dry-run", environment="production"
            ),
        ),
        (
            "/promote churn --canary 10%",
            Command("promote", model="churn", raw="/promote churn --canary 10%", canary_percent=10.0),
        ),
        (
            "/promote --canary=2.5 --dry-run",
            Command("promote", dry_run=True, raw="/promote --canary=2.5 --dry-run", canary_percent=2.5),
        ),
        ("/card 'churn'", Command("card", model="churn", raw="/card 'churn'")),
        ("/drift fraud.v2", Command("drift", model="fraud.v2", raw="/drift fraud.v2")),
        ("/ok-to-test", Command("ok-to-test", raw="/ok-to-test")),
        ("/help", Command("help", raw="/help")),
        ("/help me please", Command("help", raw="/help me please")),
        ("   /train churn   ", Command("train", model="churn", raw="/train churn")),
        ("/train churn\r\n", Command("train", model="churn", raw="/train churn")),
    ],
)
def test_commands_parse(body: str, expected: Command) -> None:
    assert parse(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "LGTM, thanks!",
        "> /promote churn",  # a quote of someone else's command
        "  > /promote churn",
        ">> /promote churn",
        "```\n/promote churn\n```",
        "~~~\n/promote churn\n~~~",
        "````md\n```\n/promote churn\n```\n````",  # a longer fence is not closed by a shorter one
        "text\n\n    /promote churn",  # indented code
        "\t/promote churn",
        "<!-- /promote churn -->",
        "<!--\n/promote churn\n-->",
        "please run `/promote churn`",  # inline code, not at the start of a line
        "I will /promote it later",
        "/assign @alice",  # another bot's command passes through
        "/path/to/model.pkl is missing",
        "/lgtm",
        "/retest",
        "- /promote churn",
    ],
)
def test_not_for_us(body: str) -> None:
    assert parse(body) is None


def test_code_fence_closes_only_with_its_own_kind() -> None:
    assert parse("```\n~~~\n/promote a\n```\n/card b") == Command("card", model="b", raw="/card b")
    assert parse("~~~\n```\n/promote a\n~~~\n/card b") == Command("card", model="b", raw="/card b")
    assert parse("```\n/promote a") is None  # an unclosed fence runs to the end


def test_only_the_first_command_counts() -> None:
    body = "Thanks!\n\n/card churn\n/promote churn\n/train churn"
    assert parse(body) == Command("card", model="churn", raw="/card churn")


def test_lines_of_other_bots_before_ours_are_skipped() -> None:
    assert parse("/assign me\n/lgtm\n/train churn") == Command("train", model="churn", raw="/train churn")


def test_a_quoted_command_before_a_real_one() -> None:
    body = "> /promote churn\n\nNo, not yet. Let's look first:\n/promote churn --dry-run"
    assert parse(body) == Command("promote", model="churn", dry_run=True, raw="/promote churn --dry-run")


@pytest.mark.parametrize(
    ("body", "suggestion"),
    [
        ("/promot churn", "/promote"),
        ("/promte", "/promote"),
        ("/trian", "/train"),
        ("/rolback", "/rollback"),
        ("/drfit", "/drift"),
        ("/ok_to_test", "/ok-to-test"),
        ("/cards", "/card"),
    ],
)
def test_near_miss_gets_did_you_mean(body: str, suggestion: str) -> None:
    reply = parse(body)
    assert isinstance(reply, Reply)
    assert f"Did you mean `{suggestion}`?" in reply.text
    assert reply.text.startswith("<!-- mlops-bot:reply kind=did-you-mean -->")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("/promote --dryrun", "did you mean `--dry-run`?"),
        ("/promote churn --force", "unknown flag `--force`"),
        ("/train churn --dry-run", "unknown flag `--dry-run`"),
        ("/rollback --to", "`--to` needs a version number"),
        ("/rollback --to three", "not `three`"),
        ("/rollback --to 0", "not `0`"),
        ("/rollback --to -1", "not `-1`"),
        ("/promote churn --to", "`--to` needs an environment name, e.g. `--to production`"),
        ("/promote churn --to ${{x}}", "needs an environment name like `production`, not"),
        ("/train churn --to production", "unknown flag `--to`"),
        ("/promote --dry-run=yes", "`--dry-run` takes no value"),
        ("/promote churn --canary", "`--canary` needs the share of requests"),
        ("/promote churn --canary 0%", "not `0%`"),
        ("/promote churn --canary 100", "not `100`"),
        ("/promote churn --canary ten", "not `ten`"),
        ("/promote churn --canary 10% --to production", "one at a time"),
        ("/rollback churn --canary 10%", "unknown flag `--canary`"),
        ("/train churn fraud", "one model at a time"),
        ("/ok-to-test churn", "takes no arguments"),
        ("/train 'churn", "could not be read"),
        ("/train ../../etc/passwd", "is not a model name"),
    ],
)
def test_bad_arguments_get_usage(body: str, fragment: str) -> None:
    reply = parse(body)
    assert isinstance(reply, Reply)
    assert fragment in reply.text
    assert "Usage: `/" in reply.text


@pytest.mark.parametrize(
    "argument",
    [
        "${{ secrets.GITHUB_TOKEN }}",
        "'${{secrets.X}}'",
        "$(rm -rf /)",
        "`id`",
        "churn;rm",
        "'a && b'",
        "churn|tee",
        "$HOME",
        "<b>x</b>",
    ],
)
def test_metacharacters_come_back_inert(argument: str) -> None:
    """Nothing in an argument is evaluated: it is either rejected as a model name (shown escaped in the
    answer, so it cannot close a code span or open HTML) or kept as typed in `raw`."""
    result = parse(f"/train {argument}")
    assert isinstance(result, Reply)
    assert "is not a model name" in result.text or "could not be read" in result.text
    outside_code = re.sub(r"(`+)(.+?)\1", "", result.text.split("\n", 1)[1])
    assert "<" not in outside_code and "$" not in outside_code  # shown only inside code spans
    assert result.text.count("<!--") == 1  # only our own marker


def test_raw_keeps_the_line_as_typed() -> None:
    result = parse('/promote "churn" --dry-run')
    assert isinstance(result, Command)
    assert result.raw == '/promote "churn" --dry-run'


def test_a_100kb_body_parses_quickly() -> None:
    filler = ("lorem ipsum dolor sit amet " * 3 + "\n") * 1_300  # ~ 105 kB of prose
    body = filler + "```\n/promote x\n```\n" + filler + "/train churn\n" + filler
    assert len(body) > 100_000
    start = time.perf_counter()
    assert parse(body) == Command("train", model="churn", raw="/train churn")
    assert time.perf_counter() - start < 0.5


def test_a_huge_single_line_is_not_a_command() -> None:
    assert parse("/train " + "a" * 100_000) is None


def test_help_is_data_for_every_verb() -> None:
    assert set(HELP) == set(VERBS)
    for verb, entry in HELP.items():
        assert entry.usage.startswith(f"/{verb}")
        assert entry.examples and all(parse(e) is not None for e in entry.examples)
        for example in entry.examples:
            assert isinstance(parse(example), Command), example


def test_render_help_lists_who_may_use_each_command() -> None:
    text = render_help(
        Permissions.model_validate({"promote": "admin", "card": "none", "ok-to-test": "triage"})
    )
    assert text.startswith("<!-- mlops-bot:reply kind=help -->")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `/")}
    assert "| admin |" in rows[f"`{HELP['promote'].usage}`"]
    assert "| anyone |" in rows["`/card [MODEL]`"]
    assert "| triage and above |" in rows["`/ok-to-test`"]
    assert "| write and above |" in rows["`/train [MODEL]`"]
    assert "first" in text and "code blocks" in text


@pytest.mark.parametrize(
    ("verb", "actual", "allowed", "fragment"),
    [
        (
            "promote",
            Permission.WRITE,
            False,
            "needs maintain permission or higher on this repository; you have write",
        ),
        ("promote", Permission.MAINTAIN, True, "needs maintain"),
        ("promote", Permission.ADMIN, True, "you have admin"),
        ("card", Permission.READ, True, ""),
        ("card", Permission.NONE, False, "you have none"),
        ("ok-to-test", Permission.TRIAGE, False, "needs write"),
        ("unknown", Permission.ADMIN, False, "not a command"),
    ],
)
def test_may_run_gives_a_reason(verb: str, actual: Permission, allowed: bool, fragment: str) -> None:
    ok, reason = may_run(verb, actual, Permissions())
    assert ok is allowed
    assert fragment in reason


def test_may_run_follows_the_config() -> None:
    permissions = Permissions.model_validate({"train": "read"})
    assert may_run("train", Permission.READ, permissions)[0]
    assert not may_run("train", Permission.READ, Permissions())[0]


def test_did_you_mean_quotes_the_word_as_typed() -> None:
    reply = parse("/ok_to_test")
    assert isinstance(reply, Reply)
    assert "`/ok_to_test` is not a command I know" in reply.text


@pytest.mark.parametrize(
    ("body", "verb", "model"),
    [
        ("@mlops-bot train churn", "train", "churn"),
        ("@mlops-bot /promote churn --dry-run", "promote", "churn"),
        ("@mlops-bot[bot] card", "card", None),
    ],
)
def test_the_bot_can_be_addressed_by_name(body: str, verb: str, model: str | None) -> None:
    """Atlantis users type `@bot command`; that is a command too (issue 17)."""
    parsed = parse(body)
    assert isinstance(parsed, Command)
    assert (parsed.verb, parsed.model) == (verb, model)


def test_an_unknown_word_addressed_to_the_bot_is_answered() -> None:
    reply = parse("@mlops-bot frobnicate")
    assert isinstance(reply, Reply) and "`frobnicate` is not a command I know" in reply.text
    assert parse("> @mlops-bot train") is None  # quoted
    assert parse("@someone-else train") is None


def test_help_examples_name_the_repositorys_own_model() -> None:
    text = render_help(Permissions(), ["breast-cancer"])
    assert "/promote breast-cancer --dry-run" in text
    assert "churn" not in text
