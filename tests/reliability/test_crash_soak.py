"""Crash soak: 1,000 deliveries while `python -m bot serve` (web, queue, worker and handlers in one process)
is SIGKILLed ten times at random moments and restarted. Afterwards every delivery is processed and no
effect is duplicated.

GitHub does not retry a delivery that failed (the bot was down, or died before answering); the App's owner
redelivers failed deliveries (from the App's "Recent Deliveries", or its API). The test does the same with
the stand-in's delivery log: same delivery id, same body, same signature. Deliveries that were answered
202 must never be redelivered: the bot has them on disk.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.adapters.store import Store
from bot.standin.webhooks import DeliveryRecord, signature

from .harness import ADMIN, OTHER_BOT, READER, WRITER, World, make_world, wait_for

DELIVERIES = 1_000
KILLS = 10
FORK_PULLS = 10
ISSUES = 40
LEASE_SECONDS = 1.5

# (body, author, on a pull request, kind of answer or None when the bot must stay silent)
CASES = (
    ("/help", READER, False, "help"),
    ("/train", READER, True, "refused"),
    ("/promot", WRITER, False, "did-you-mean"),
    ("/train", WRITER, False, "pull-only"),
    ("nice work", ADMIN, True, None),
    ("/help", OTHER_BOT, False, None),
    ("/drift churn extra", WRITER, False, "usage"),
)


class Bot:
    """`python -m bot serve` as a subprocess, on the port the stand-in delivers to; killable."""

    def __init__(self, world: World, log_dir: Path) -> None:
        self.world = world
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        s = world.settings
        self.env = {
            **os.environ,
            "MLOPS_BOT_WEBHOOK_SECRET": s.webhook_secret.get_secret_value(),
            "MLOPS_BOT_DATABASE_URL": s.database_url,
            "MLOPS_BOT_GITHUB_BASE_URL": s.github_base_url,
            "MLOPS_BOT_APP_ID": str(s.app_id),
            "MLOPS_BOT_PRIVATE_KEY": world.private_key,
            "MLOPS_BOT_EXECUTOR": s.executor,
            "MLOPS_BOT_WORK_DIR": str(s.work_dir),
            "MLOPS_BOT_GITHUB_THROTTLE": "false",
            "MLOPS_BOT_RETRY_BASE_SECONDS": "0.05",
            # Ten kills could each land on the same delivery; it must not be given up for that.
            "MLOPS_BOT_MAX_ATTEMPTS": str(KILLS + 5),
        }
        self.env.pop("MLOPS_BOT_HANDLER", None)

    def start(self) -> None:
        port = self.world.bot_port
        command = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--log-level", "warning",
                   "--lease-seconds", str(LEASE_SECONDS), "--poll-interval", "0.1"]  # fmt: skip
        self.starts += 1
        with open(self.log_dir / f"serve-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, (self.log_dir / f"serve-{self.starts}.log").read_text()
            assert time.monotonic() < deadline, "mlops-bot serve did not start within 30 s"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@contextmanager
def killing(bot: Bot, rng: random.Random, stop: threading.Event) -> Iterator[list[float]]:
    """Kill the bot KILLS times, each 0.3-2.5 s after it came back, and restart it at once."""
    moments: list[float] = []

    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(KILLS):
                if stop.wait(rng.uniform(0.3, 2.5)):
                    return
                bot.kill()
                moments.append(time.monotonic())
                bot.start()
        except BaseException as error:  # surfaced in the test thread below
            errors.append(error)

    thread = threading.Thread(target=run, name="killer", daemon=True)
    thread.start()
    try:
        yield moments
    finally:
        thread.join(timeout=120)
        assert not thread.is_alive(), "the kill loop did not finish"
        if errors:
            raise errors[0]


def redeliver(world: World, record: DeliveryRecord) -> int:
    """What "Redeliver" does on GitHub: the same delivery id, body and signature."""
    body = json.dumps(record.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": record.event,
        "X-GitHub-Delivery": record.id,
        "X-Hub-Signature-256": signature(world.settings.webhook_secret.get_secret_value(), body),
    }
    try:
        response = httpx.post(f"http://127.0.0.1:{world.bot_port}/webhook", content=body, headers=headers)
    except httpx.TransportError:
        return 0
    return response.status_code


@pytest.fixture
def world(tmp_path: Path, keys: tuple[str, str]) -> Iterator[World]:
    world = make_world(tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}", private_key=keys[0],
                       public_key=keys[1])  # fmt: skip
    try:
        yield world
    finally:
        world.standin.stop()


@pytest.mark.slow
def test_1000_deliveries_survive_ten_sigkills(world: World, tmp_path: Path) -> None:
    rng = random.Random(10)
    started = time.monotonic()
    bot = Bot(world, tmp_path)
    bot.start()
    sent: list[tuple[tuple[str, str, bool, str | None], int, int]] = []
    stop = threading.Event()
    try:
        with killing(bot, random.Random(11), stop) as kill_moments:
            for i in range(FORK_PULLS):
                world.open_fork_pull(i)
            for i in range(ISSUES):
                world.open_issue(f"Question {i}")
            human = 2 * FORK_PULLS + ISSUES
            # Spread the comments over the kills: a burst, then a pause, as people type.
            while human < DELIVERIES:
                case = CASES[len(sent) % len(CASES)]
                number = rng.choice(world.fork_pulls if case[2] else world.issues)
                sent.append((case, number, world.comment(number, case[0], case[1])))
                human += 1
                if human % 50 == 0:
                    time.sleep(0.4)
            wait_for(lambda: len(kill_moments) == KILLS, "the ten kills", timeout=120)
        assert world.standin.wait_for_deliveries(60)
        phases = {"typing+kills": time.monotonic() - started}

        # The owner redelivers whatever failed, until none is left (the bot's own comments add deliveries).
        redelivered = 0
        store = Store(world.settings.database_url)
        try:
            for _ in range(20):
                failed = [r for r in world.standin.deliveries if r.status != 202]
                for record in failed:
                    record.status = redeliver(world, record) or None
                    redelivered += 1
                wait_for(lambda: store.queue_depth() == 0, "the queue to drain", timeout=120, interval=0.25)
                assert world.standin.wait_for_deliveries(30)
                if all(r.status == 202 for r in world.standin.deliveries):
                    break
            rows = store.list(limit=100_000)
        finally:
            store.close()
        phases["redeliver+drain"] = time.monotonic() - started - phases["typing+kills"]
    finally:
        stop.set()
        bot.stop()
    elapsed = time.monotonic() - started

    hooks = world.standin.deliveries
    assert all(h.status == 202 for h in hooks)
    statuses = {r.id: r.status for r in rows}
    assert {h.id for h in hooks} <= set(statuses), "a delivery answered 202 was lost"
    assert Counter(statuses.values()) == {"done": len(rows)}, Counter(statuses.values())

    for (body, author, _, kind), number, comment_id in sent:
        answers = world.answers(number, comment_id)
        if kind is None:
            assert answers == [], (body, author)
            continue
        assert len(answers) == 1, (body, author, comment_id, len(answers))
        assert f"kind={kind}" in answers[0].body, (body, answers[0].body[:200])
        assert world.bot_eyes(comment_id) == 1
    for number in world.fork_pulls + world.issues:
        duplicated = {key: n for key, n in world.key_counts(number).items() if n > 1}
        assert duplicated == {}, (number, duplicated)
    reply_kinds = Counter(kind for (_, _, _, kind), _, _ in sent)
    rerun = sum(1 for r in rows if r.attempts > 1)
    print(f"\n{human} human deliveries, {len(rows)} stored, {KILLS} SIGKILLs, {bot.starts} starts, "
          f"{redelivered} redeliveries, {rerun} deliveries re-run after a kill, {elapsed:.1f}s; "
          f"answers {dict(reply_kinds)}; phases {phases}")  # fmt: skip
