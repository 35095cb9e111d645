"""Routing: `event.action` -> the handlers that subscribe to it (Probot style), composed in one list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.events import Delivery
from bot.handlers import comments, installations, jobs, pull_requests, registry, workflow_runs
from bot.handlers.context import Context
from bot.settings import Settings

FEATURES = (comments, pull_requests, jobs, registry, workflow_runs, installations)

Handler = Callable[[Context, Delivery], None]


def routes() -> dict[str, list[Handler]]:
    table: dict[str, list[Handler]] = {}
    for feature in FEATURES:
        for name, handler in feature.ROUTES.items():
            table.setdefault(name, []).append(handler)
    return table


def build_handler(settings: Settings, store: Any | None = None) -> Dispatcher:
    """The function the worker calls for each delivery; exceptions make the worker retry."""
    from bot.adapters.github import GitHubFactory
    from bot.adapters.mlflow.rest import owning_repo
    from bot.adapters.store import Store

    store = store or Store(settings.database_url)
    executor = jobs.build_executor(settings) if settings.executor == "local" else None
    ctx = Context(
        settings=settings,
        github=GitHubFactory(settings),
        enqueue=store.enqueue,
        history=store,
        executor=executor,
        model_owners=lambda model: owning_repo(settings.mlflow_tracking_uri, model),
    )
    return dispatcher(ctx)


class Dispatcher:
    """Each delivery to the handlers that subscribe to it, with `ctx` (the worker's, or a test's fakes)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._table = routes()

    def __call__(self, delivery: Delivery) -> None:
        # A delivery may start a job: the warm runner, stopped after an idle spell, starts importing now.
        self.warm_up()
        # `event.action` subscribers first, then whole-event subscribers (jobs subscribe by event).
        for handler in self._table.get(delivery.name, []) + (
            self._table.get(delivery.event, []) if delivery.action else []
        ):
            handler(self.ctx, delivery)

    def warm_up(self) -> None:
        """Get ready for the first job: the executor's warm runner starts importing (in the background)."""
        warm_up = getattr(self.ctx.executor, "warm_up", None)  # the local executor's; fakes have none
        if callable(warm_up):
            warm_up()

    def close(self) -> None:
        """Release what the handlers keep between deliveries (the executor's warm runner)."""
        if self.ctx.executor is not None:
            self.ctx.executor.close()


def dispatcher(ctx: Context) -> Dispatcher:
    return Dispatcher(ctx)
