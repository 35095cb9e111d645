"""Log tails posted on GitHub show no credential and no path of the bot host (issue 18, finding 8)."""

from __future__ import annotations

import pytest

from bot.core.scrub import scrub

ROOT = "/tmp/mlops-bot-stages/job_train_acme-1a2b/repo"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (f'  File "{ROOT}/src/train.py", line 3', '  File "src/train.py", line 3'),
        (
            "ERROR: failed to push to s3://key:secret@bucket/path",
            "ERROR: failed to push to s3://***@bucket/path",
        ),
        (
            "remote https://x-access-token:ghs_abcdefghijklmnopqrstuvwx@github.com/a/b",
            "remote https://***@github.com/a/b",
        ),
        ("token ghs_abcdefghijklmnopqrstuvwxyz0123 leaked", "token *** leaked"),
        ("Authorization: basic eC1hY2Nlc3M=", "Authorization: basic ***"),
        ("cannot open /srv/bot/.mlops-bot/jobs/x/step0-drift.log", "cannot open …/step0-drift.log"),
        ("ValueError: could not convert 'abc' to float", "ValueError: could not convert 'abc' to float"),
        ("see https://dvc.org/doc/user-guide", "see https://dvc.org/doc/user-guide"),
    ],
)
def test_scrub(raw: str, shown: str) -> None:
    assert scrub(raw, roots=[ROOT]) == shown
