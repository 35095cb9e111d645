"""The bot's own jobs as typed requests: what a handler decided to run, as it crosses the queue.

A handler builds one request (a frozen dataclass per job kind); the queue row carries it as JSON
(`to_params`); the worker reads it back with `from_params`, which checks every field, so a row that is not
what this version writes (an unknown kind, a missing or mistyped field) is one clear error, never a KeyError
deep inside a job. The row ids that deduplicate these jobs are built in bot.core.keys.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Union


@dataclass(frozen=True)
class Step:
    """One `mlops-bot ...` invocation of a job; `check=False` lets a step fail and the job go on (train ->
    card)."""

    args: tuple[str, ...]
    check: bool = True


class JobRequestError(ValueError):
    """A queue row whose parameters are not a job request of this version."""


@dataclass(frozen=True)
class TrainRequest:
    """Train `model` (every model when None) on commit `sha` of pull request `pr`, then post its cards."""

    KIND: ClassVar[str] = "train"
    pr: int
    # The commit the handler judged (approved, for a fork); never the head when the job starts. Empty only in
    # rows queued before jobs carried their commit: a same-repository PR's head then, a fork's never.
    sha: str = ""
    model: str | None = None


@dataclass(frozen=True)
class CardRequest:
    """Post the cards of `sha` on `pr` from the runs already logged for it (`/card`)."""

    KIND: ClassVar[str] = "card"
    pr: int
    sha: str = ""  # as TrainRequest.sha
    model: str | None = None


@dataclass(frozen=True)
class PlanRequest:
    """What a promotion would do (`/promote --dry-run`): of `pr`'s commit, or of the default branch when None."""

    KIND: ClassVar[str] = "plan"
    pr: int | None
    reply_to: int | None = None
    model: str | None = None
    comment_id: int | None = None  # the command's: its plan is answered once per command, keyed by it
    asked_at: str | None = None  # the command's `created_at`: no answer to it is older


@dataclass(frozen=True)
class PromoteRequest:
    """Promote what commit `sha` trained (a merge commit, or an open PR's head where the config allows it)."""

    KIND: ClassVar[str] = "promote"
    sha: str
    pr: int | None = None
    model: str | None = None
    reply_to: int | None = None
    asked_by: str | None = None  # what asked (keys.merge_effect, keys.comment_effect): it gets one answer
    asked_at: str | None = None  # the merge's `merged_at` or the command's `created_at`: no answer is older


@dataclass(frozen=True)
class MoveRequest:
    """Move `model` on to environment `to` from the one before it (`/promote MODEL --to production`)."""

    KIND: ClassVar[str] = "move"
    to: str
    reply_to: int
    model: str | None = None
    asked_by: str = ""  # the login whose command asks: production's required reviewers are checked against it
    comment_id: int | None = None  # the command's: its answer is one comment, keyed by it
    asked_at: str | None = None  # the command's `created_at`: no answer to it is older
    dry_run: bool = False


@dataclass(frozen=True)
class CanaryRequest:
    """Serve what commit `sha` trained beside the champion for `percent` % of the requests
    (`/promote MODEL --canary 10%` on pull request `pr`)."""

    KIND: ClassVar[str] = "canary"
    sha: str
    percent: str  # as the command wrote it, checked: "10", "2.5"
    pr: int | None = None
    model: str | None = None
    reply_to: int | None = None
    comment_id: int | None = None  # the command's: its answer is one comment, keyed by it
    asked_at: str | None = None  # the command's `created_at`: no answer to it is older
    dry_run: bool = False


@dataclass(frozen=True)
class RollbackRequest:
    """Move the champion of `model` back (to version `to`, else the previous champion), answering on `reply_to`."""

    KIND: ClassVar[str] = "rollback"
    reply_to: int
    model: str | None = None
    to: str | None = None
    job_key: str | None = None  # keys the rollback's Deployment and reply: a retried job repeats nothing
    dry_run: bool = False
    asked_at: str | None = None  # the command's `created_at`: no answer to it is older


@dataclass(frozen=True)
class DriftRequest:
    """Check drift (and the monitoring judges) of `model`, answering on `reply_to` when a person asked."""

    KIND: ClassVar[str] = "drift"
    model: str | None = None
    reply_to: int | None = None


@dataclass(frozen=True)
class ReconcileRequest:
    """Bring what serves back to what the registry says (`mlops-bot reconcile`)."""

    KIND: ClassVar[str] = "reconcile"
    model: str | None = None
    dry_run: bool = False


JobRequest = Union[  # noqa: UP007  (a runtime alias: `X | Y` of classes is fine too, but reads worse here)
    TrainRequest,
    CardRequest,
    PlanRequest,
    PromoteRequest,
    MoveRequest,
    CanaryRequest,
    RollbackRequest,
    DriftRequest,
    ReconcileRequest,
]
KINDS: dict[str, type[JobRequest]] = {
    cls.KIND: cls
    for cls in (
        TrainRequest,
        CardRequest,
        PlanRequest,
        PromoteRequest,
        MoveRequest,
        CanaryRequest,
        RollbackRequest,
        DriftRequest,
        ReconcileRequest,
    )
}


def to_params(request: JobRequest) -> dict[str, Any]:
    """The JSON object a queue row carries for `request`."""
    return dataclasses.asdict(request)


def from_params(kind: str, params: object) -> JobRequest:
    """The request a queue row of `kind` carries; JobRequestError saying what is wrong when it is not one."""
    cls = KINDS.get(kind)
    if cls is None:
        raise JobRequestError(f"unknown job kind {kind!r}; this version runs {', '.join(sorted(KINDS))}")
    if not isinstance(params, dict):
        raise JobRequestError(f"a {kind} job row carries no parameters object")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise JobRequestError(f"a {kind} job row has unknown parameter(s): {', '.join(unknown)}")
    values = {}
    for name, field in fields.items():
        if name not in params:
            if field.default is dataclasses.MISSING:
                raise JobRequestError(f"a {kind} job row lacks `{name}`")
            continue
        value = params[name]
        if not _is(value, hints[name]):
            raise JobRequestError(f"a {kind} job row has `{name}` = {value!r}, not {_describe(hints[name])}")
        values[name] = value
    return cls(**values)


def _is(value: object, hint: Any) -> bool:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return any(_is(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)  # JSON's true is not a PR number
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_describe(arm) for arm in typing.get_args(hint))
    return "null" if hint is type(None) else {int: "an integer", str: "a string", bool: "true/false"}[hint]
