"""Every command, typed by people and bots who may not run it, through the stand-in and the real bot:
refused with a reason, or ignored; never run (no job queued, no workflow dispatched)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.adapters.store import Store
from bot.handlers.pull_requests import FORK_WAITING_KEY

from .harness import BOT, FORKER, OTHER_BOT, READER, REPO, WRITER, World, bot_in_process, make_world, wait_for

COMMANDS = (
    "/help",
    "/train",
    "/card",
    "/promote --dry-run",
    "/promote",
    "/rollback",
    "/drift",
    "/ok-to-test",
)

# What a person with read permission (a reader, or the author of a fork's PR on a public repository) gets.
READ_ONLY_ANSWERS = {
    "/help": "kind=help",
    "/card": "kind=fork-waiting",  # allowed to read, but fork code waits for /ok-to-test: nothing runs
    "/train": "`/train` needs write permission or higher on this repository; you have read",
    "/drift": "`/drift` needs write permission or higher on this repository; you have read",
    "/ok-to-test": "`/ok-to-test` needs write permission or higher on this repository; you have read",
    "/promote": "`/promote` needs maintain permission or higher on this repository; you have read",
    "/promote --dry-run": "`/promote` needs maintain permission or higher on this repository; you have read",
    "/rollback": "`/rollback` needs maintain permission or higher on this repository; you have read",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, keys: tuple[str, str]) -> Iterator[tuple[World, Store]]:
    tmp = tmp_path_factory.mktemp("permissions")
    world = make_world(
        tmp, database_url=f"sqlite:///{tmp / 'bot.db'}", private_key=keys[0], public_key=keys[1]
    )
    try:
        with bot_in_process(world) as store:
            world.open_fork_pull(0)
            yield world, store
    finally:
        world.standin.stop()


def _settled(world: World, store: Store) -> None:
    assert world.standin.wait_for_deliveries(30)
    wait_for(lambda: store.queue_depth() == 0, "the bot to finish", timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("author", [READER, FORKER])
def test_read_only_people_are_refused_with_a_reason(served: tuple[World, Store], author: str) -> None:
    world, store = served
    pull = world.fork_pulls[0]
    sent = {command: world.comment(pull, command, author) for command in COMMANDS}
    _settled(world, store)
    for command, comment_id in sent.items():
        answers = world.answers(pull, comment_id)
        assert len(answers) == 1, (author, command, len(answers))
        assert READ_ONLY_ANSWERS[command] in answers[0].body, (author, command, answers[0].body)
        if "needs" in READ_ONLY_ANSWERS[command]:
            assert f"@{author}, I did not run that" in answers[0].body
        assert world.bot_eyes(comment_id) == 1
    _nothing_ran(world, store)


@pytest.mark.slow
@pytest.mark.parametrize("author", [OTHER_BOT, BOT])
def test_bots_are_ignored(served: tuple[World, Store], author: str) -> None:
    world, store = served
    pull = world.fork_pulls[0]
    issue = world.open_issue(f"from {author}")
    sent = [(n, world.comment(n, command, author)) for command in COMMANDS for n in (pull, issue)]
    _settled(world, store)
    for number, comment_id in sent:
        assert world.answers(number, comment_id) == []
        assert world.bot_eyes(comment_id) == 0
    _nothing_ran(world, store)


@pytest.mark.slow
def test_an_edited_comment_runs_nothing(served: tuple[World, Store]) -> None:
    """Only `created` comments are commands: editing an old comment into `/ok-to-test` approves nothing."""
    world, store = served
    pull = world.fork_pulls[0]
    comment_id = world.comment(pull, "looks fine to me", WRITER)
    world.standin.edit_comment(REPO, comment_id, "/ok-to-test", by=WRITER)
    _settled(world, store)
    assert world.answers(pull, comment_id) == []
    _nothing_ran(world, store)


@pytest.mark.slow
def test_a_fork_waiting_answer_survives_a_new_push(served: tuple[World, Store]) -> None:
    """A writer's `/train` on a fork PR that nobody approved is answered "waiting for /ok-to-test"; the PR's
    own "waiting" notice is refreshed on every push, and that refresh must not take the writer's answer."""
    world, store = served
    pull = world.open_fork_pull(1)
    comment_id = world.comment(pull, "/train", WRITER)
    _settled(world, store)
    assert len(world.answers(pull, comment_id)) == 1
    world.standin.commit(world.fork, "fix-1", {"notes/1.txt": "again\n"}, "Again", author=FORKER)
    _settled(world, store)
    assert len(world.answers(pull, comment_id)) == 1
    assert world.key_counts(pull)[FORK_WAITING_KEY] == 1
    _nothing_ran(world, store)


def _nothing_ran(world: World, store: Store) -> None:
    assert [r.id for r in store.list(limit=10_000) if r.id.startswith("job:")] == []
    assert world.standin.dispatches(REPO) == []
    assert [r.status for r in store.list(limit=10_000) if r.status != "done"] == []
