"""Where a job's time goes: seconds spent in each outside system (the registry, the bento build, GitHub),
reported with every promotion outcome (`promote --json`'s `timings`, read by bench/promote.py) so the
slowest part is measured before it is cut."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, cast

from bot.core.models import ModelVersion
from bot.jobs.common import JobEnv
from bot.ports import RepoGitHub

if TYPE_CHECKING:
    from bot.jobs.promote import BentoBuilder


class _Timed:
    """Adds the time spent in each call of `target` to `timings[bucket]` (for bench/promote.py's split)."""

    def __init__(self, target: Any, bucket: str, timings: dict[str, float]) -> None:
        self._target, self._bucket, self._timings = target, bucket, timings

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._timings[self._bucket] = (
                    self._timings.get(self._bucket, 0.0) + time.perf_counter() - started
                )

        return timed


def timed_env(env: JobEnv, timings: dict[str, float]) -> JobEnv:
    timed = dataclasses.replace(env, _gh=cast(RepoGitHub, _Timed(env.gh, "github", timings)))
    timed.__dict__["registry"] = _Timed(env.registry, "registry", timings)
    timed.__dict__["config"] = env.config
    return timed


def timed_builder(builder: BentoBuilder | None, timings: dict[str, float]) -> BentoBuilder | None:
    if builder is None:
        return None
    inner = builder

    def build(version: ModelVersion, sha: str) -> tuple[str, str]:
        started = time.perf_counter()
        try:
            return inner(version, sha)
        finally:
            timings["bento"] = timings.get("bento", 0.0) + time.perf_counter() - started

    return build
