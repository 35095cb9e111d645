"""MLflow registry webhooks, through the production router: a moved alias reconciles the repository that owns
the model (the `ModelOwners` port), and nothing else does."""

from __future__ import annotations

from bot.core.events import Delivery
from bot.core.jobs import ReconcileRequest, from_params
from bot.handlers import dispatcher
from bot.handlers.context import JOB_EVENT, Context
from bot.settings import Settings
from tests.handlers.fakes import FakeFactory, FakeRepo, Queue

OWNERS = {"churn": "acme/churn-model"}


def route(action: str, model: str, delivery_id: str = "d-1") -> Queue:
    queue = Queue()
    ctx = Context(
        settings=Settings(),
        github=FakeFactory(FakeRepo()),
        enqueue=queue,
        model_owners=OWNERS.get,
    )
    dispatcher(ctx)(Delivery(delivery_id, "mlflow", action, {"data": {"name": model}}))
    return queue


def test_a_moved_alias_queues_one_reconcile_of_the_owning_repository() -> None:
    queue = route("model_version_alias.created", "churn")
    [(event, action, payload)] = queue.jobs.values()
    assert (event, action) == (JOB_EVENT, "reconcile")
    assert payload["repository"]["full_name"] == "acme/churn-model"
    request = from_params("reconcile", payload["params"])
    assert isinstance(request, ReconcileRequest) and request.model == "churn"


def test_a_model_no_repository_owns_or_an_event_that_moves_no_alias_queues_nothing() -> None:
    assert route("model_version_alias.created", "someone-elses").jobs == {}
    assert route("model_version.created", "churn").jobs == {}
    assert route("model_version_tag.set", "churn").jobs == {}


def test_without_a_tracking_server_to_ask_registry_events_queue_nothing() -> None:
    queue = Queue()
    ctx = Context(settings=Settings(), github=FakeFactory(FakeRepo()), enqueue=queue)
    dispatcher(ctx)(Delivery("d-2", "mlflow", "model_version_alias.deleted", {"data": {"name": "churn"}}))
    assert queue.jobs == {}
