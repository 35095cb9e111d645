"""A world for reliability tests: the GitHub stand-in, one repository with a config and a fork, and the
REAL bot (FastAPI app, durable SQLite queue, worker, handlers, PyGithub adapter) talking to each other over
HTTP on 127.0.0.1. Tests play the humans and then read back what the bot left on the stand-in."""

from __future__ import annotations

import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.adapters.store import Store
from bot.app import create_app
from bot.core.markers import PREFIX, reply_marker
from bot.demo import BotServer
from bot.handlers import build_handler
from bot.settings import Settings
from bot.standin import StandIn
from bot.standin.testing import app_key_pair

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/model"
MODEL = "churn"
BOT = "mlops-bot[bot]"
APP_ID = 4343

# Who is who on acme/model. mallory owns the fork; on a public repository she can read, nothing more.
ADMIN, WRITER, READER, FORKER = "alice", "wendy", "bob", "mallory"
OTHER_BOT = "dependabot[bot]"

CONFIG = f"""\
version: 1
models:
  - name: {MODEL}
    stage: train
    output: model.pkl
    metrics:
      - name: f1
        tolerance: 0.01
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_keys() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh GitHub App key."""
    return app_key_pair()


def project_files(target: Path) -> Path:
    """The repository's first commit: the config and the workflows `/train` dispatches in actions mode."""
    (target / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (target / ".github" / "mlops-bot.yml").write_text(CONFIG)
    for workflow in (ROOT / "templates" / "workflows").glob("*.yml"):
        (target / ".github" / "workflows" / workflow.name).write_text(workflow.read_text())
    (target / "README.md").write_text("# model\n")
    return target


@dataclass
class World:
    """The stand-in with acme/model seeded; the bot's settings point at it (the bot itself is started by
    the caller: in this process or as `python -m bot serve`)."""

    standin: StandIn
    settings: Settings
    private_key: str
    bot_port: int
    installation_id: int
    fork: str = ""
    fork_pulls: list[int] = field(default_factory=list)
    issues: list[int] = field(default_factory=list)

    # -- acting as people ------------------------------------------------------------------------------
    def comment(self, number: int, body: str, author: str) -> int:
        return self.standin.comment(REPO, number, body, author=author)

    def open_fork_pull(self, index: int) -> int:
        branch = f"fix-{index}"
        self.standin.commit(self.fork, branch, {f"notes/{index}.txt": f"change {index}\n"}, f"Change {index}",
                            author=FORKER)  # fmt: skip
        number = self.standin.open_pull(REPO, head=f"{FORKER}:{branch}", title=f"Change {index}",
                                        author=FORKER)  # fmt: skip
        self.fork_pulls.append(number)
        return number

    def open_issue(self, title: str) -> int:
        number = self.standin.create_issue(REPO, title=title, body="", author=ADMIN).number
        self.issues.append(number)
        return number

    # -- reading back what the bot did ---------------------------------------------------------------
    def bot_comments(self, number: int) -> list[Any]:
        return [c for c in self.standin.comments(REPO, number) if c.user == BOT]

    def answers(self, number: int, comment_id: int) -> list[Any]:
        """The bot's answers to one command comment (keyed by the comment's id)."""
        marker = reply_marker("answer", str(comment_id))
        return [c for c in self.bot_comments(number) if marker in c.body]

    def bot_eyes(self, comment_id: int) -> int:
        return sum(
            1 for r in self.standin.reactions(REPO, comment_id) if r.user == BOT and r.content == "eyes"
        )

    def key_counts(self, number: int) -> Counter[str]:
        """How many bot comments carry each leading marker: a key counted twice is a duplicated effect."""
        return Counter(c.body.split("\n", 1)[0] for c in self.bot_comments(number))


def make_world(data_dir: Path, *, database_url: str, private_key: str, public_key: str,
               executor: str = "actions") -> World:  # fmt: skip
    bot_port = free_port()
    secret = secrets.token_hex(16)
    standin = StandIn(data_dir / "github", webhook_url=f"http://127.0.0.1:{bot_port}/webhook",
                      webhook_secret=secret, strict=True)  # fmt: skip
    base_url = standin.start()
    standin.register_app(APP_ID, public_key)
    for login in (ADMIN, WRITER, READER, FORKER):
        standin.create_user(login)
    standin.create_user(OTHER_BOT, type="Bot")
    standin.create_repo(REPO, source=project_files(data_dir / "seed"))
    standin.set_permission(REPO, ADMIN, "admin")
    standin.set_permission(REPO, WRITER, "write")
    standin.set_permission(REPO, READER, "read")
    installation_id = standin.install_app(REPO)
    settings = Settings(
        webhook_secret=secret,
        database_url=database_url,
        github_base_url=base_url,
        app_id=APP_ID,
        private_key=private_key,
        executor=executor,  # type: ignore[arg-type]
        work_dir=data_dir / "work",
        github_throttle=False,
        retry_base_seconds=0.05,
        max_attempts=6,
    )
    world = World(standin, settings, private_key, bot_port, installation_id)
    world.fork = standin.fork(REPO, FORKER)
    return world


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def is_bot_text(body: str) -> bool:
    return body.startswith(PREFIX)


@contextmanager
def bot_in_process(world: World, *, poll_interval: float = 0.1) -> Iterator[Store]:
    """`mlops-bot serve` as one process runs it: the app, its worker thread and the handlers, on the port
    the stand-in delivers to. Yields the bot's store for read-back."""
    store = Store(world.settings.database_url)
    app = create_app(world.settings, handle=build_handler(world.settings, store), store=store,
                     start_worker=True, poll_interval=poll_interval)  # fmt: skip
    server = BotServer(app, world.bot_port)
    server.start()
    try:
        yield store
    finally:
        server.stop()
        store.close()
