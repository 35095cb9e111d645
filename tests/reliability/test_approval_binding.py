"""Issue 18, finding 2, through the stand-in and the real bot: `/ok-to-test` approves the commit the maintainer
saw, the head at the comment's creation, and nothing pushed after it.

`executor: actions`, so what would run is what the bot dispatched: each `workflow_dispatch` names its sha."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.adapters.store import Store
from bot.core.markers import reply_marker

from .harness import FORKER, REPO, WRITER, World, bot_in_process, make_world, wait_for


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, keys: tuple[str, str]) -> Iterator[tuple[World, Store]]:
    tmp = tmp_path_factory.mktemp("approvals")
    world = make_world(
        tmp, database_url=f"sqlite:///{tmp / 'bot.db'}", private_key=keys[0], public_key=keys[1]
    )
    try:
        with bot_in_process(world) as store:
            yield world, store
    finally:
        world.standin.stop()


def _settled(world: World, store: Store) -> None:
    assert world.standin.wait_for_deliveries(30)
    wait_for(lambda: store.queue_depth() == 0, "the bot to finish", timeout=60)


def _head(world: World, number: int) -> str:
    return str(world.standin.repo(REPO).pulls[number].head_sha)


def _next_second() -> None:
    """GitHub's timestamps have one-second resolution: let the clock pass the last event's second."""
    time.sleep(1.05)


def _push(world: World, index: int, text: str) -> None:
    world.standin.commit(world.fork, f"fix-{index}", {f"notes/{index}.txt": text}, "More", author=FORKER)


def _trained(world: World, number: int) -> list[str]:
    """The commits dispatched for training on PR `number`."""
    return [
        str(d.inputs.get("sha"))
        for d in world.standin.dispatches(REPO)
        if d.workflow.endswith("mlops-pr.yml") and str(d.inputs.get("pr")) == str(number)
    ]


@pytest.mark.slow
def test_a_push_right_after_the_approval_is_not_trained(served: tuple[World, Store]) -> None:
    world, store = served
    number = world.open_fork_pull(10)
    approved = _head(world, number)
    _settled(world, store)
    _next_second()
    comment_id = world.comment(number, "/ok-to-test", WRITER)
    _push(world, 10, "pushed 0.0 s after the approval\n")  # before the bot has even read the comment
    pushed = _head(world, number)
    assert pushed != approved
    _settled(world, store)

    trained = _trained(world, number)
    assert pushed not in trained, "a commit nobody approved was dispatched for training"
    assert trained in ([approved], []), trained
    if not trained:
        [answer] = world.answers(number, comment_id)
        assert "the head moved" in answer.body or "same second as the approval" in answer.body
        assert "/ok-to-test again" in answer.body
    jobs = [r.id for r in store.list(limit=10_000) if r.id.startswith("job:train:")]
    assert not [j for j in jobs if pushed in j], jobs


@pytest.mark.slow
def test_a_replayed_approval_after_a_new_push_approves_nothing(served: tuple[World, Store]) -> None:
    world, store = served
    number = world.open_fork_pull(11)
    approved = _head(world, number)
    _settled(world, store)
    _next_second()
    comment_id = world.comment(number, "/ok-to-test", WRITER)
    _settled(world, store)
    assert _trained(world, number) == [approved]
    [approval] = [d for d in world.standin.deliveries if d.payload.get("comment", {}).get("id") == comment_id]

    _next_second()
    _push(world, 11, "a new head nobody has read\n")
    pushed = _head(world, number)
    _settled(world, store)
    before = world.key_counts(number)
    # The same signed body under a new X-GitHub-Delivery: the bot's delivery dedupe cannot catch it.
    world.standin.redeliver(approval.id, new_guid=True)
    _settled(world, store)

    assert _trained(world, number) == [approved]
    assert not [c for c in world.bot_comments(number) if reply_marker("ok-to-test", pushed) in c.body]
    assert world.key_counts(number) == before, "the replay left a new bot comment"


@pytest.mark.slow
def test_a_second_delivery_of_the_same_approval_is_a_duplicate(served: tuple[World, Store]) -> None:
    world, store = served
    number = world.open_fork_pull(12)
    approved = _head(world, number)
    _settled(world, store)
    _next_second()
    comment_id = world.comment(number, "/ok-to-test", WRITER)
    _settled(world, store)
    [approval] = [d for d in world.standin.deliveries if d.payload.get("comment", {}).get("id") == comment_id]
    before = world.key_counts(number)
    for _ in range(2):
        world.standin.redeliver(approval.id, new_guid=True)
    _settled(world, store)
    assert _trained(world, number) == [approved]
    assert world.key_counts(number) == before
    assert world.answers(number, comment_id) == []  # an approval is recorded, not answered, and only once
