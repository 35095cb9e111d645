"""`mlops-bot app-manifest` and the manifest builder: exactly the permissions and events the bot uses,
a webhook URL where `mlops-bot serve` listens, and no secret."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from bot.core.app_manifest import ManifestError, build_manifest

EXPECTED_PERMISSIONS = {
    "metadata": "read",
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "checks": "write",
    "deployments": "write",
    "actions": "write",
}
EXPECTED_EVENTS = ["pull_request", "issue_comment", "push", "workflow_run"]


def _manifest(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["app-manifest", *args]) == 0
    captured = capsys.readouterr()
    assert "app-manifests/{code}/conversions" in captured.err  # how to finish the flow
    parsed: dict[str, object] = json.loads(captured.out)
    return parsed


def test_asks_for_exactly_what_the_bot_uses(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _manifest(capsys, "--url", "https://bot.example.com/")
    assert manifest["default_permissions"] == EXPECTED_PERMISSIONS
    assert manifest["default_events"] == EXPECTED_EVENTS
    assert manifest["hook_attributes"] == {"url": "https://bot.example.com/webhook", "active": True}
    assert manifest["name"] == "mlops-bot" and manifest["public"] is False
    assert "redirect_url" not in manifest
    assert "statuses" not in manifest["default_permissions"]  # type: ignore[operator]


def test_carries_no_secret(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BOT_WEBHOOK_SECRET", "s3cr3t-value")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_tokenvalue")
    raw = json.dumps(_manifest(capsys, "--url", "https://bot.example.com"))
    assert "s3cr3t-value" not in raw and "ghs_tokenvalue" not in raw
    assert not any(word in raw.lower() for word in ("secret", "private_key", "token", "password"))


def test_explicit_urls_and_name(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _manifest(
        capsys,
        *("--url", "https://ml.example.com", "--webhook-url", "https://hooks.example.com/gh"),
        *("--name", "acme-mlops", "--redirect-url", "https://ml.example.com/registered"),
    )
    assert manifest["hook_attributes"] == {"url": "https://hooks.example.com/gh", "active": True}
    assert manifest["name"] == "acme-mlops"
    assert manifest["redirect_url"] == "https://ml.example.com/registered"


def test_url_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_BOT_PUBLIC_URL", "https://env.example.com")
    assert _manifest(capsys)["url"] == "https://env.example.com"


def test_without_a_url_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_BOT_PUBLIC_URL", raising=False)
    assert main(["app-manifest"]) == 2
    err = capsys.readouterr().err
    assert "--url" in err and "MLOPS_BOT_PUBLIC_URL" in err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "bot.example.com"}, "--url must be an absolute http(s) URL"),
        ({"url": "ftp://bot.example.com"}, "--url must be an absolute http(s) URL"),
        ({"url": "https://bot.example.com", "webhook_url": "/webhook"}, "--webhook-url must be"),
        ({"url": "https://user:pw@bot.example.com"}, "must not contain a user name or password"),
        ({"url": "https://bot.example.com", "name": "  "}, "--name must not be empty"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_manifest(**kwargs)


def test_cli_reports_a_bad_url_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app-manifest", "--url", "nope"]) == 2
    assert "mlops-bot app-manifest: --url must be an absolute http(s) URL" in capsys.readouterr().err
