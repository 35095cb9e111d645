"""`mlops-bot app-manifest`: print the GitHub App manifest for the manifest registration flow."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.core.app_manifest import DEFAULT_NAME, ManifestError, build_manifest

_NEXT_STEPS = """\
Register the app: post this JSON as the `manifest` field of a form to
  https://github.com/settings/apps/new                      (personal account)
  https://github.com/organizations/ORG/settings/apps/new    (organisation; GitHub Enterprise: your host)
GitHub redirects back with a code; exchange it with POST /app-manifests/{code}/conversions for the app
id, private key and webhook secret (MLOPS_BOT_APP_ID, MLOPS_BOT_PRIVATE_KEY_PATH, MLOPS_BOT_WEBHOOK_SECRET).
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "app-manifest",
        help="Print the GitHub App manifest (permissions, events, webhook URL) for registering the bot.",
        description="Print the GitHub App manifest JSON for GitHub's manifest registration flow.",
    )
    p.add_argument("--url", help="The bot's public address (default: MLOPS_BOT_PUBLIC_URL).")
    p.add_argument("--webhook-url", help="Where GitHub sends webhooks (default: <url>/webhook).")
    p.add_argument("--name", default=DEFAULT_NAME, help=f"App name on GitHub (default: {DEFAULT_NAME}).")
    p.add_argument("--redirect-url", help="Where GitHub sends the browser after registration (optional).")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import UserError

    url = args.url or _public_url()
    if not url:
        raise UserError("pass --url with the address where the bot is reachable, or set MLOPS_BOT_PUBLIC_URL")
    try:
        manifest = build_manifest(
            url=url, webhook_url=args.webhook_url, name=args.name, redirect_url=args.redirect_url
        )
    except ManifestError as exc:
        raise UserError(str(exc)) from exc
    print(json.dumps(manifest, indent=2))
    print(_NEXT_STEPS, file=sys.stderr, end="")
    return 0


def _public_url() -> str:
    from bot.settings import Settings

    return Settings().public_url  # type: ignore[call-arg]  # fields come from the environment
