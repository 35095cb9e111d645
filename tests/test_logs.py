"""One log format, with the delivery in every line (issue 17)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from bot.logs import configure, delivery_context


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    loggers = [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(lg.handlers[:], lg.level, lg.disabled, lg.propagate) for lg in loggers]
    yield
    for lg, (handlers, level, disabled, propagate) in zip(loggers, saved, strict=True):
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.disabled, lg.propagate = disabled, propagate


def test_json_lines_carry_the_delivery(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("uvicorn.error").disabled = True  # as uvicorn's own logging config leaves it
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    configure("info", "json")
    with delivery_context(delivery="d-1", repo="acme/model", pr=7):
        logging.getLogger("bot.worker").info("training %s", "churn")
    logging.getLogger("uvicorn.error").info("outside any delivery")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "training churn"
    assert (first["delivery"], first["repo"], first["pr"]) == ("d-1", "acme/model", "7")
    assert second["logger"] == "uvicorn.error" and "delivery" not in second


def test_text_lines_name_the_delivery(capsys: pytest.CaptureFixture[str]) -> None:
    configure("info", "text")
    with delivery_context(delivery="d-2", repo="acme/model"):
        logging.getLogger("bot").warning("careful")
    assert capsys.readouterr().err.rstrip().endswith("bot: careful [delivery=d-2 repo=acme/model]")


def test_a_job_step_takes_its_delivery_from_the_environment() -> None:
    code = "import logging, bot.cli as c; c.configure('info'); logging.getLogger('bot.jobs').info('step')"
    env = {"MLOPS_BOT_LOG_FORMAT": "json", "MLOPS_BOT_LOG_DELIVERY": "job:train:1", "MLOPS_BOT_LOG_REPO": "a/b",
           "PATH": "/usr/bin"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert (line["delivery"], line["repo"], line["message"]) == ("job:train:1", "a/b", "step")
