"""One stand-in per test module (it starts in ~0.1 s), strict: a test fails on any request or answer that
breaks GitHub's REST description."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.standin import StandIn
from bot.standin.testing import WebhookReceiver, assert_clean

WEBHOOK_SECRET = "standin-test-secret"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hooks:
        yield hooks


@pytest.fixture(scope="module")
def shared_standin(tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver) -> Iterator[StandIn]:
    standin = StandIn(
        tmp_path_factory.mktemp("standin"), webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET
    )
    standin.validate_responses = True
    with standin:
        yield standin


@pytest.fixture
def standin(shared_standin: StandIn) -> Iterator[StandIn]:
    shared_standin.faults.clear()
    yield shared_standin
    shared_standin.faults.clear()
    assert_clean(shared_standin)


def client(standin: StandIn, token: str) -> Any:
    from github import Auth, Github

    return Github(
        base_url=standin.base_url,
        auth=Auth.Token(token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        per_page=100,
    )


@dataclass
class World:
    """A fresh repository with an owner, a writer, a reader, and the app installed."""

    standin: StandIn
    full_name: str
    owner: str
    owner_token: str
    writer: str
    writer_token: str
    reader: str
    reader_token: str
    installation_id: int
    bot_token: str

    def bot(self) -> Any:
        return client(self.standin, self.bot_token).get_repo(self.full_name)

    def as_user(self, token: str) -> Any:
        return client(self.standin, token).get_repo(self.full_name)


@pytest.fixture
def world(standin: StandIn, tmp_path: Path) -> World:
    n = next(_names)
    owner, writer, reader = f"owner{n}", f"writer{n}", f"reader{n}"
    source = tmp_path / "source"
    (source / ".github/workflows").mkdir(parents=True)
    (source / "README.md").write_text("# demo\n")
    (source / "params.yaml").write_text("lr: 0.1\n")
    (source / ".github/workflows/train.yml").write_text(
        "name: train\non:\n  workflow_dispatch:\n    inputs:\n      model: {type: string}\njobs: {}\n"
    )
    full_name = f"{owner}/model{n}"
    owner_token = standin.create_user(owner)
    standin.create_repo(full_name, source=source)
    writer_token = standin.create_user(writer)
    reader_token = standin.create_user(reader)
    standin.set_permission(full_name, writer, "write")
    installation_id = standin.install_app(full_name)
    return World(
        standin,
        full_name,
        owner,
        owner_token,
        writer,
        writer_token,
        reader,
        reader_token,
        installation_id,
        standin.installation_token(installation_id),
    )
