"""`GitHubRepo`: the `RepoGitHub` port for one repository, composed of its parts. Every method is safe to repeat."""

from __future__ import annotations

from bot.adapters.github.checks import Checks
from bot.adapters.github.commits import Commits
from bot.adapters.github.contents import Contents
from bot.adapters.github.deployments import Deployments
from bot.adapters.github.issues import CommentsAndIssues
from bot.adapters.github.pulls import Pulls


class GitHubRepo(CommentsAndIssues, Checks, Deployments, Contents, Pulls, Commits):
    """`RepoGitHub` for one repository. Every method is safe to repeat."""
