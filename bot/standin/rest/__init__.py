"""The stand-in's REST handlers, one module per GitHub resource, registered by `operationId`.

Importing this package registers every handler in `HANDLERS`; bot/standin/api.py serves them.
"""

from __future__ import annotations

from bot.standin.rest import actions, apps, checks, deployments, git, issues, pulls, repos, reviews
from bot.standin.rest.call import HANDLERS

__all__ = [
    "HANDLERS",
    "actions",
    "apps",
    "checks",
    "deployments",
    "git",
    "issues",
    "pulls",
    "repos",
    "reviews",
]
