"""What every handler gets: settings, the GitHub factory, the queue, and the executor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core import keys
from bot.core.config import CONFIG_PATH, ConfigError, RepoConfig, load_config
from bot.core.events import Delivery, PermanentError
from bot.core.jobs import JobRequest, JobRequestError, from_params, to_params
from bot.ports import GitHubFactory, JobRunner, ModelOwners, RepoGitHub
from bot.settings import Settings

# What a webhook's `repository` says that the bot would otherwise read with `GET /repos/{owner}/{repo}`.
REPOSITORY_FACTS = ("default_branch", "clone_url")

JOB_EVENT = "mlops-bot"  # the `event` of jobs the bot queues for itself; `action` is the job kind

Enqueue = Callable[[str, str, str | None, dict[str, Any]], bool]


class PullHistory(Protocol):
    """The `pull_request` deliveries the bot stored: when each head of a pull request was announced."""

    def pull_head_events(self, repo: str, number: int, limit: int = 2000) -> list[dict[str, Any]]: ...


@dataclass
class Context:
    settings: Settings
    github: GitHubFactory
    enqueue: Enqueue
    history: PullHistory | None = None  # None: no record, so `/ok-to-test` cannot bind and refuses
    executor: JobRunner | None = None  # None: jobs run on a local executor built for each one, cold
    model_owners: ModelOwners | None = None  # None: no tracking server, so registry events own no repository

    def repo(self, delivery: Delivery) -> RepoGitHub:
        # The payload's `repository` (a webhook's, or the facts a queued job carries) spares a repository read.
        repository = delivery.payload.get("repository")
        return self.github.for_repo(
            delivery.repo,
            delivery.installation_id,
            repository=repository if isinstance(repository, dict) else None,
        )

    def queue_job(self, request: JobRequest, key: str, delivery: Delivery) -> bool:
        """Queue a job for the worker; `key` (bot.core.keys.job_key) makes it idempotent: a redelivered event
        queues nothing new."""
        payload: dict[str, Any] = {
            "repository": {"full_name": delivery.repo, **repository_facts(delivery)},
            "installation": {"id": delivery.installation_id},
            "sender": delivery.payload.get("sender") or {},
            "params": to_params(request),
        }
        return self.enqueue(keys.job_row(request.KIND, key), JOB_EVENT, request.KIND, payload)


def repository_facts(delivery: Delivery) -> dict[str, str]:
    """The default branch and clone URL the delivery's `repository` carries, for the job it queues."""
    repository = delivery.payload.get("repository")
    if not isinstance(repository, dict):
        return {}
    return {k: str(repository[k]) for k in REPOSITORY_FACTS if repository.get(k)}


def read_config(gh: RepoGitHub) -> RepoConfig | None:
    """The repository's rules, from the default branch only (never from the PR being judged).

    None when the repository has no config file: the bot then stays quiet on events. A broken file raises
    ConfigError, whose message names the file, line and key.
    """
    text = gh.read_file(CONFIG_PATH, ref=None)
    if text is None:
        return None
    return load_config(text, CONFIG_PATH)


def job_request(delivery: Delivery) -> JobRequest:
    """The request a job delivery carries; a row this version cannot read is a permanent failure, said plainly."""
    try:
        return from_params(delivery.action or "", delivery.payload.get("params"))
    except JobRequestError as exc:
        raise PermanentError(str(exc)) from exc


__all__ = ["JOB_EVENT", "ConfigError", "Context", "job_request", "read_config"]
