"""The bot's own jobs (`mlops-bot.<kind>` deliveries): run them where heavy work runs.

`executor: local` (the embedded default) runs the same CLI steps as the reusable actions in a fresh clone;
`executor: actions` dispatches the repository's workflow and lets the runner do it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from bot.adapters.executor import JobError, LocalExecutor
from bot.core.events import Delivery
from bot.core.isolation import JOB_PERMISSIONS
from bot.handlers.context import JOB_EVENT, Context, job_request
from bot.jobs.plans import WORKFLOWS, plan_job

log = logging.getLogger(__name__)


def on_job(ctx: Context, delivery: Delivery) -> None:
    request = job_request(delivery)
    kind = request.KIND
    gh = ctx.repo(delivery)
    if ctx.settings.executor == "actions" and kind in WORKFLOWS:
        workflow, inputs = WORKFLOWS[kind]
        gh.dispatch_workflow(workflow, gh.default_branch(), inputs(gh, request))
        return
    executor = LocalExecutor(
        work_dir=ctx.settings.work_dir,
        github_api_url=ctx.settings.github_base_url,
        tracking_uri=ctx.settings.mlflow_tracking_uri,
        extra_env=_settings_env(ctx),
        isolation=ctx.settings.stage_isolation,
        timeout_s=ctx.settings.job_timeout_seconds,
    )
    checkout, branch, steps, files, env = plan_job(gh, request)
    # The job's token reaches this one repository with only what this kind of job needs.
    token = ctx.github.token(delivery.installation_id, delivery.repo, permissions=JOB_PERMISSIONS[kind])
    try:
        executor.run(
            delivery.id,
            clone_url=gh.clone_url(),
            token=token,
            repo=delivery.repo,
            checkout=checkout,
            branch=branch,
            steps=steps,
            files=files,
            env=env,
        )
    except JobError:
        log.exception("job %s failed", delivery.id)
        raise


def _settings_env(ctx: Context) -> dict[str, str]:
    """The bot's settings a job step needs too (locks in the same database, the same GitHub manners)."""
    s = ctx.settings
    return {
        "MLOPS_BOT_DATABASE_URL": s.database_url,
        "MLOPS_BOT_GITHUB_THROTTLE": "true" if s.github_throttle else "false",
        "MLOPS_BOT_BOT_LOGIN": s.bot_login,
        "MLOPS_BOT_PUBLIC_URL": s.public_url,  # the bot's own pages a job links (its reports)
        "MLOPS_BOT_WORK_DIR": str(s.work_dir.resolve()),
        "MLOPS_BOT_LOG_FORMAT": os.environ.get("MLOPS_BOT_LOG_FORMAT", "text"),
    }


ROUTES: dict[str, Any] = {JOB_EVENT: on_job}
