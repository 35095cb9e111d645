"""JSON shapes of GitHub objects, copied from the REST description's examples, with the stand-in's URLs.

The same builders feed REST responses and webhook payloads; a webhook payload is then trimmed to the
properties its schema allows (see `webhooks.conform`). One module per GitHub resource; callers use the
names re-exported here (`shapes.issue(...)`).
"""

from __future__ import annotations

from bot.standin.shapes.actions import workflow, workflow_run
from bot.standin.shapes.apps import APP_EVENTS, APP_PERMISSIONS, installation, integration
from bot.standin.shapes.checks import check_run, status
from bot.standin.shapes.common import Urls, node_id, private_user, user
from bot.standin.shapes.deployments import deployment, deployment_status, environment
from bot.standin.shapes.git import (
    commit,
    content_entry,
    content_file,
    diff_entry,
    file_sha,
    git_commit,
    git_ref,
    git_user,
)
from bot.standin.shapes.issues import comment, issue, label, reaction, reactions_rollup
from bot.standin.shapes.pulls import pull_request, review
from bot.standin.shapes.repos import branch_full, branch_short, full_repository, repository

__all__ = [
    "APP_EVENTS",
    "APP_PERMISSIONS",
    "Urls",
    "branch_full",
    "branch_short",
    "check_run",
    "comment",
    "commit",
    "content_entry",
    "content_file",
    "deployment",
    "deployment_status",
    "diff_entry",
    "environment",
    "file_sha",
    "full_repository",
    "git_commit",
    "git_ref",
    "git_user",
    "installation",
    "integration",
    "issue",
    "label",
    "node_id",
    "private_user",
    "pull_request",
    "reaction",
    "reactions_rollup",
    "repository",
    "review",
    "status",
    "user",
    "workflow",
    "workflow_run",
]
