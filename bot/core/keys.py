"""Every key the bot dedupes or serialises by: queue rows of its own jobs, named locks, effect keys.

One module, so two features cannot pick the same key for different things, and a key's text never drifts:
these strings are already in running databases and GitHub (Deployments carry their key), so changing
one would make a retried job repeat its effect. Hidden comment markers are built in bot.core.markers.
"""

from __future__ import annotations

JOB_ROW_PREFIX = "job:"  # the deliveries row id of one of the bot's own jobs (bot.adapters.store.queue)


def job_row(kind: str, key: str) -> str:
    """The queue row id of a job of `kind` deduplicated by `key`: queued twice, it runs once."""
    return f"{JOB_ROW_PREFIX}{kind}:{key}"


def job_key(
    repo: str, *, pr: int | None = None, sha: str | None = None, comment_id: int | None = None
) -> str:
    """What makes two requests for a job the same one: `repo[#pr][@sha][/c<comment>]`.

    A push trains its head once however often it is delivered (`acme/m#7@<sha>`); a merge promotes once
    (`acme/m@<merge sha>`); a command runs once per comment (`.../c<comment id>`)."""
    key = repo
    if pr is not None:
        key += f"#{pr}"
    if sha:
        key += f"@{sha}"
    if comment_id is not None:
        key += f"/{comment_effect(comment_id)}"
    return key


def comment_effect(comment_id: int) -> str:
    """The key of what a command comment did (a rollback's Deployment and reply): the same on a retry."""
    return f"c{comment_id}"


def merge_effect(merge_sha: str) -> str:
    """The key of what a merge did (its promotion reply): the same when the merge is delivered again."""
    return f"m{merge_sha[:12]}"


def reconcile_tick(repo: str, bucket: int | str) -> str:
    """The reconcile timer's job for `repo` in one time bucket: one per repository per interval."""
    return job_row("reconcile", f"{repo}@{bucket}")


def reconcile_after_registry_event(repo: str, model: str, delivery_id: str) -> str:
    """The reconcile job an MLflow registry webhook delivery asks for."""
    return job_row("reconcile", f"{repo}/{model}/{delivery_id}")


def model_lock(model: str) -> str:
    """The named lock that serialises promotions and rollbacks of one model."""
    return f"promote:{model}"


def promotion_deployment(model: str, run_id: str) -> str:
    """The key of the Deployment a promotion of `run_id` records: one per (model, run)."""
    return f"promote:{model}@{run_id}"


def environment_deployment(model: str, version: str, environment: str) -> str:
    """The key of the Deployment that moves `version` on to `environment`: one per (model, version, environment),
    whether a command or the soak moved it, however often either runs."""
    return f"move:{model}@{version}->{environment.lower()}"


def canary_deployment(model: str, candidate: str, champion: str, percent: float) -> str:
    """The key of the Deployment that starts a canary: one per (candidate, champion beside it, share)."""
    return f"canary:{model}@{candidate}/{champion}/{percent:g}%"


def canary_drop_deployment(model: str, champion: str, candidate: str) -> str:
    """The key of a hand-run (unkeyed) canary drop's Deployment: one per (champion, dropped candidate)."""
    return f"canary-drop:{model}:{champion}<-{candidate}"


def rollback_deployment(model: str, champion_version: str, target_version: str) -> str:
    """The key of a hand-run (unkeyed) rollback's Deployment: one per move champion -> target."""
    return f"rollback:{model}:{champion_version}->{target_version}"
