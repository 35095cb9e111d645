"""Webhook signature check: HMAC-SHA256 of the raw body, as GitHub sends it in `X-Hub-Signature-256`.

Implements https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
- the header is `sha256=` followed by the hex HMAC-SHA256 of the exact body bytes, keyed by the secret;
- compare in constant time (`hmac.compare_digest`), never with `==`;
- several secrets may be configured so a secret can be rotated without dropping deliveries.

Fails closed: no secret configured, a missing or malformed header, or no secret matching is a refusal.
Pure: bytes in, a value out.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="
_WELL_FORMED = re.compile(r"sha256=[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class SignatureResult:
    """Whether a delivery is authentic, and a reason a person can act on when it is not."""

    ok: bool
    reason: str


def sign(body: bytes, secret: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for `body` signed with `secret`."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def refuse_header(header: str | None, secrets: Sequence[bytes]) -> SignatureResult | None:
    """The refusal `verify` would give whatever the body, decided from the header alone (None: the body
    must be read to decide). Lets the web path refuse an unsigned delivery before reading its body."""
    if not [s for s in secrets if s]:
        return SignatureResult(
            False,
            "no webhook secret is configured, so no delivery can be trusted: set MLOPS_BOT_WEBHOOK_SECRET "
            "to the secret of the GitHub App's webhook (comma-separate two secrets while rotating)",
        )
    if header is None or header == "":
        return SignatureResult(False, f"missing {SIGNATURE_HEADER} header: configure a secret on the webhook")
    if not _WELL_FORMED.fullmatch(header.strip()):
        return SignatureResult(
            False, f"malformed {SIGNATURE_HEADER} header: expected 'sha256=<64 hex digits>'"
        )
    return None


def verify(body: bytes, header: str | None, secrets: Sequence[bytes]) -> SignatureResult:
    """Check `header` against every configured secret (old and new during a rotation)."""
    refused = refuse_header(header, secrets)
    if refused is not None or header is None:
        return refused or SignatureResult(False, f"missing {SIGNATURE_HEADER} header")
    usable = [s for s in secrets if s]
    received = header.strip().lower().encode("ascii")
    # Compare against every secret, without stopping early, so timing says nothing about which one matched.
    matched = False
    for secret in usable:
        matched |= hmac.compare_digest(sign(body, secret).encode("ascii"), received)
    if matched:
        return SignatureResult(True, "signature matches a configured secret")
    return SignatureResult(
        False, f"{SIGNATURE_HEADER} does not match any configured secret: check the webhook secret"
    )


# --- MLflow model-registry webhooks --------------------------------------------------------------------
# MLflow 3 signs `"{X-MLflow-Delivery-Id}.{X-MLflow-Timestamp}.{raw body}"` with HMAC-SHA256 and sends
# `X-MLflow-Signature: v1,<base64>`. The timestamp is inside the signed text, so a replay can be refused by age.

MLFLOW_SIGNATURE_HEADER = "X-MLflow-Signature"
MLFLOW_MAX_AGE_SECONDS = 300


def sign_mlflow(delivery_id: str, timestamp: str, body: bytes, secret: bytes) -> str:
    import base64

    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()


def verify_mlflow(
    body: bytes,
    *,
    delivery_id: str | None,
    timestamp: str | None,
    header: str | None,
    secrets: Sequence[bytes],
    now: float,
) -> SignatureResult:
    """Check an MLflow registry webhook; fails closed like `verify`, and refuses deliveries older than 5 min."""
    refused = refuse_mlflow_headers(delivery_id=delivery_id, timestamp=timestamp, header=header,
                                    secrets=secrets, now=now)  # fmt: skip
    if refused is not None or not (delivery_id and timestamp and header):
        return refused or SignatureResult(False, "missing X-MLflow headers")
    usable = [s for s in secrets if s]
    matched = False
    for secret in usable:
        expected = sign_mlflow(delivery_id, timestamp, body, secret).encode()
        matched |= hmac.compare_digest(expected, header.strip().encode())
    if matched:
        return SignatureResult(True, "signature matches a configured secret")
    return SignatureResult(False, "X-MLflow-Signature does not match any configured secret")


def refuse_mlflow_headers(
    *,
    delivery_id: str | None,
    timestamp: str | None,
    header: str | None,
    secrets: Sequence[bytes],
    now: float,
) -> SignatureResult | None:
    """The refusal `verify_mlflow` would give whatever the body (no secret, a missing header, a timestamp
    that is not a finite number or is outside the replay window); None: the body decides."""
    if not [s for s in secrets if s]:
        return SignatureResult(
            False, "no MLflow webhook secret is configured: set MLOPS_BOT_MLFLOW_WEBHOOK_SECRET"
        )
    if not (delivery_id and timestamp and header):
        return SignatureResult(
            False, "missing X-MLflow-Delivery-Id, X-MLflow-Timestamp or X-MLflow-Signature header"
        )
    try:
        age = now - float(timestamp)
    except ValueError:
        age = math.nan
    # "nan" and "inf" parse as floats, and nan compares false with everything: without this check a
    # signed delivery stamped "nan" would never be too old, and could be replayed forever.
    if not math.isfinite(age):
        return SignatureResult(False, "malformed X-MLflow-Timestamp: expected Unix seconds")
    if abs(age) > MLFLOW_MAX_AGE_SECONDS:
        return SignatureResult(False, f"X-MLflow-Timestamp is {age:.0f} s away from now: refused as a replay")
    return None
