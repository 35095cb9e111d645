"""`GitHubRepo`: the `RepoGitHub` port for one repository, composed of its parts. Every method is safe to repeat."""

from __future__ import annotations

from bot.adapters.github.checks import Checks
from bot.adapters.github.contents import Contents
from bot.adapters.github.deployments import Deployments
from bot.adapters.github.issues import CommentsAndIssues


class GitHubRepo(CommentsAndIssues, Checks, Deployments, Contents):
    """`RepoGitHub` for one repository. Every method is safe to repeat."""
