from __future__ import annotations

import pytest

from bot.core.signature import sign, verify

BODY = b'{"action":"opened","number":1}'
OLD = b"old-secret"
NEW = b"new-secret"


def test_sign_matches_githubs_documented_example() -> None:
    # The example in GitHub's "Validating webhook deliveries" page.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"Hello, World!", b"It's a Secret to Everybody") == expected


@pytest.mark.parametrize(
    ("case", "body", "header", "secrets", "ok", "reason_has"),
    [
        ("valid", BODY, sign(BODY, NEW), [NEW], True, "matches"),
        ("valid, upper-case hex", BODY, "sha256=" + sign(BODY, NEW)[7:].upper(), [NEW], True, "matches"),
        ("wrong secret", BODY, sign(BODY, b"other"), [NEW], False, "does not match"),
        ("body changed", BODY + b" ", sign(BODY, NEW), [NEW], False, "does not match"),
        ("missing header", BODY, None, [NEW], False, "missing"),
        ("empty header", BODY, "", [NEW], False, "missing"),
        ("sha1 header", BODY, "sha1=" + "0" * 40, [NEW], False, "malformed"),
        ("no prefix", BODY, sign(BODY, NEW)[7:], [NEW], False, "malformed"),
        ("short hex", BODY, sign(BODY, NEW)[:-2], [NEW], False, "malformed"),
        ("not hex", BODY, "sha256=" + "z" * 64, [NEW], False, "malformed"),
        ("rotation: old secret still accepted", BODY, sign(BODY, OLD), [NEW, OLD], True, "matches"),
        ("rotation: new secret accepted", BODY, sign(BODY, NEW), [OLD, NEW], True, "matches"),
        ("empty body signed", b"", sign(b"", NEW), [NEW], True, "matches"),
        ("empty body, signature of another body", b"", sign(BODY, NEW), [NEW], False, "does not match"),
        ("no secret configured", BODY, sign(BODY, b""), [], False, "MLOPS_BOT_WEBHOOK_SECRET"),
        ("only empty secrets", BODY, sign(BODY, b""), [b""], False, "MLOPS_BOT_WEBHOOK_SECRET"),
    ],
)
def test_verify(
    case: str, body: bytes, header: str | None, secrets: list[bytes], ok: bool, reason_has: str
) -> None:
    result = verify(body, header, secrets)
    assert result.ok is ok, case
    assert reason_has in result.reason, case


def test_refusal_reason_never_contains_the_secret() -> None:
    result = verify(BODY, sign(BODY, b"guess"), [NEW])
    assert NEW.decode() not in result.reason


# --- MLflow registry webhooks -------------------------------------------------------------------------
from bot.core.signature import sign_mlflow, verify_mlflow  # noqa: E402

_MLFLOW_BODY = (
    b'{"entity": "model_version_alias", "action": "created", "data": {"name": "m", "alias": "champion"}}'
)


@pytest.mark.parametrize(
    ("delivery", "timestamp", "header", "secrets", "now", "ok"),
    [
        ("d1", "1000", sign_mlflow("d1", "1000", _MLFLOW_BODY, b"s3"), [b"s3"], 1010.0, True),
        ("d1", "1000", sign_mlflow("d1", "1000", _MLFLOW_BODY, b"s3"), [b"old", b"s3"], 1010.0, True),
        ("d1", "1000", sign_mlflow("d1", "1000", _MLFLOW_BODY, b"s3"), [b"other"], 1010.0, False),
        (
            "d2",
            "1000",
            sign_mlflow("d1", "1000", _MLFLOW_BODY, b"s3"),
            [b"s3"],
            1010.0,
            False,
        ),  # id is signed
        (
            "d1",
            "1000",
            sign_mlflow("d1", "1000", _MLFLOW_BODY, b"s3"),
            [b"s3"],
            2000.0,
            False,
        ),  # replayed late
        (
            "d1",
            "1000",
            sign_mlflow("d1", "1000", _MLFLOW_BODY, b"s3"),
            [],
            1010.0,
            False,
        ),  # no secret: closed
        ("d1", "1000", None, [b"s3"], 1010.0, False),
        ("d1", "soon", sign_mlflow("d1", "soon", _MLFLOW_BODY, b"s3"), [b"s3"], 1010.0, False),
    ],
)
def test_mlflow_signature(
    delivery: str, timestamp: str, header: str | None, secrets: list[bytes], now: float, ok: bool
) -> None:
    result = verify_mlflow(
        _MLFLOW_BODY, delivery_id=delivery, timestamp=timestamp, header=header, secrets=secrets, now=now
    )
    assert result.ok is ok, result.reason
    assert result.reason
