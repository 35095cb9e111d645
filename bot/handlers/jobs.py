"""The bot's own jobs (`mlops-bot.<kind>` deliveries): run them where heavy work runs.

`executor: local` (the embedded default) runs the same CLI steps as the reusable actions in a fresh clone;
`executor: actions` dispatches the repository's workflow and lets the runner do it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from bot.adapters.executor import JobError, LocalExecutor
from bot.adapters.warm_runner import WarmRunner
from bot.core.events import Delivery
from bot.core.isolation import JOB_PERMISSIONS
from bot.handlers.context import JOB_EVENT, Context, job_request
from bot.jobs.plans import WORKFLOWS, plan_job
from bot.settings import Settings

log = logging.getLogger(__name__)


def on_job(ctx: Context, delivery: Delivery) -> None:
    request = job_request(delivery)
    kind = request.KIND
    gh = ctx.repo(delivery)
    if ctx.settings.executor == "actions" and kind in WORKFLOWS:
        workflow, inputs = WORKFLOWS[kind]
        gh.dispatch_workflow(workflow, gh.default_branch(), inputs(gh, request))
        return
    executor = ctx.executor or build_executor(ctx.settings, warm=False)
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


def build_executor(settings: Settings, *, warm: bool | None = None) -> LocalExecutor:
    """The local executor the settings describe; `warm` (default: the settings' `warm_jobs`) forks its steps
    from a pre-imported runner kept in the work dir."""
    runner = None
    if settings.warm_jobs if warm is None else warm:
        runner = WarmRunner(settings.work_dir.resolve() / "warm", idle_s=settings.warm_idle_seconds)
    return LocalExecutor(
        work_dir=settings.work_dir,
        github_api_url=settings.github_base_url,
        tracking_uri=settings.mlflow_tracking_uri,
        extra_env=_settings_env(settings),
        isolation=settings.stage_isolation,
        timeout_s=settings.job_timeout_seconds,
        keep_workdirs=settings.keep_job_dirs,
        warm=runner,
    )


def _settings_env(s: Settings) -> dict[str, str]:
    """The bot's settings a job step needs too (locks in the same database, the same GitHub manners)."""
    return {
        "MLOPS_BOT_DATABASE_URL": s.database_url,
        "MLOPS_BOT_GITHUB_THROTTLE": "true" if s.github_throttle else "false",
        "MLOPS_BOT_BOT_LOGIN": s.bot_login,
        "MLOPS_BOT_PUBLIC_URL": s.public_url,  # the bot's own pages a job links (its reports)
        "MLOPS_BOT_WORK_DIR": str(s.work_dir.resolve()),
        "MLOPS_BOT_LOG_FORMAT": os.environ.get("MLOPS_BOT_LOG_FORMAT", "text"),
    }


ROUTES: dict[str, Any] = {JOB_EVENT: on_job}
