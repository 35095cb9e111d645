"""Bad input: a corpus of malformed, truncated, oversized and replayed deliveries against the bot over HTTP,
and comment bodies crafted to inject, through the stand-in and the real bot. Nothing is executed, no reply
breaks, each is answered clearly or ignored."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.adapters.store import Store
from bot.app import create_app
from bot.core.markdown import code
from bot.core.markers import find_markers, reply_marker
from bot.core.signature import sign
from bot.demo import BotServer
from bot.settings import Settings

from .harness import (
    ADMIN,
    FORKER,
    READER,
    REPO,
    WRITER,
    World,
    bot_in_process,
    free_port,
    make_world,
    wait_for,
)

SECRET = b"corpus-secret"
LIMIT = 256 * 1024


# ---------------------------------------------------------------------------------------------------------
# Deliveries: the intake over real HTTP, with a handler that records what reached it


@dataclass
class Intake:
    url: str
    port: int
    store: Store
    handled: list[str]


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    tmp = tmp_path_factory.mktemp("intake")
    settings = Settings(webhook_secret=SECRET.decode(), database_url=f"sqlite:///{tmp / 'bot.db'}",
                        max_body_bytes=LIMIT)  # fmt: skip
    store = Store(settings.database_url)
    handled: list[str] = []
    app = create_app(settings, handle=lambda d: handled.append(d.id), store=store, start_worker=True,
                     poll_interval=0.05)  # fmt: skip
    server = BotServer(app, free_port())
    url = server.start()
    try:
        yield Intake(url, server.port, store, handled)
    finally:
        server.stop()
        store.close()


def _headers(body: bytes, *, event: str = "issue_comment", delivery: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, SECRET),
    }


_COMMENT = json.dumps({"action": "created", "comment": {"id": 1, "body": "/help"}}).encode()

# (name, body, headers to override, expected status, words the error must contain)
CORPUS: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("no signature", _COMMENT, {"X-Hub-Signature-256": ""}, 401, "X-Hub-Signature-256"),
    ("wrong secret", _COMMENT, {"X-Hub-Signature-256": sign(_COMMENT, b"guess")}, 401, "X-Hub-Signature-256"),
    ("sha1 only", _COMMENT, {"X-Hub-Signature-256": "sha1=" + "0" * 40}, 401, "X-Hub-Signature-256"),
    ("no event header", _COMMENT, {"X-GitHub-Event": ""}, 400, "X-GitHub-Event"),
    ("no delivery id", _COMMENT, {"X-GitHub-Delivery": ""}, 400, "X-GitHub-Delivery"),
    ("delivery id of 10 kB", _COMMENT, {"X-GitHub-Delivery": "d" * 10_000}, 400, "too long"),
    ("truncated JSON", _COMMENT[:-7], {}, 400, "not valid JSON"),
    ("empty body", b"", {}, 400, "not valid JSON"),
    ("a JSON list", b"[1, 2]", {}, 400, "JSON object"),
    ("a JSON string", b'"hello"', {}, 400, "JSON object"),
    ("not UTF-8", b'{"a": "\xff\xfe"}', {}, 400, "not valid JSON"),
    ("form without payload", b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}, 400, "payload"),
    ("over the size limit", b'{"pad": "' + b"x" * LIMIT + b'"}', {}, 413, "larger than"),
    ("Content-Length lies big", _COMMENT, {"Content-Length": str(LIMIT * 4)}, 413, "larger than"),
]


@pytest.mark.parametrize(("name", "body", "override", "status", "words"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_bad_delivery_is_refused_and_says_why(
    intake: Intake, name: str, body: bytes, override: dict[str, str], status: int, words: str
) -> None:
    headers = {**_headers(body), **override}
    if "Content-Length" in override:  # send fewer bytes than announced, then close: a lying client
        answer = _raw_post(intake.port, headers, body, close=True)
        assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer[:200]
        assert words.encode() in answer
        return
    before = intake.store.queue_depth(), len(intake.store.list(limit=100_000))
    response = httpx.post(f"{intake.url}/webhook", content=body, headers=headers)
    assert response.status_code == status, response.text[:300]
    assert words in response.json()["error"]
    assert len(intake.store.list(limit=100_000)) == before[1]  # nothing recorded


def test_deeply_nested_json_is_refused_not_a_500(intake: Intake) -> None:
    body = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = httpx.post(f"{intake.url}/webhook", content=body, headers=_headers(body))
    assert response.status_code == 400, response.text[:200]


def test_a_delivery_cut_off_mid_body_is_not_recorded(intake: Intake) -> None:
    body = json.dumps({"action": "created", "pad": "x" * 50_000}).encode()
    delivery = f"cut-{uuid.uuid4()}"
    headers = {**_headers(body, delivery=delivery), "Content-Length": str(len(body))}
    _raw_post(intake.port, headers, body[: len(body) // 2], close=True, read=False)
    assert httpx.get(f"{intake.url}/healthz").status_code == 200  # the server shrugged it off
    assert intake.store.get(delivery) is None


def test_a_replayed_delivery_is_handled_once(intake: Intake) -> None:
    body = json.dumps({"action": "created", "comment": {"id": 9}}).encode()
    headers = _headers(body, delivery=f"replay-{uuid.uuid4()}")
    answers = [httpx.post(f"{intake.url}/webhook", content=body, headers=headers).json() for _ in range(5)]
    assert [a["status"] for a in answers] == ["queued"] + ["duplicate"] * 4
    wait_for(lambda: headers["X-GitHub-Delivery"] in intake.handled, "the delivery to be handled", timeout=10)
    wait_for(lambda: intake.store.queue_depth() == 0, "the queue to drain", timeout=10)
    assert intake.handled.count(headers["X-GitHub-Delivery"]) == 1


def _raw_post(port: int, headers: dict[str, str], body: bytes, *, close: bool, read: bool = True) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k != "Content-Length")
    length = headers.get("Content-Length", str(len(body)))
    request = f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {length}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request + body)
        if close:
            sock.shutdown(socket.SHUT_WR)
        if not read:
            return b""
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


# ---------------------------------------------------------------------------------------------------------
# Comments crafted to inject, through the stand-in and the real bot


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[str, str]
) -> Iterator[tuple[World, Store, Path]]:
    tmp = tmp_path_factory.mktemp("inject")
    world = make_world(
        tmp, database_url=f"sqlite:///{tmp / 'bot.db'}", private_key=keys[0], public_key=keys[1]
    )
    try:
        with bot_in_process(world) as store:
            world.open_fork_pull(0)
            world.open_issue("A question")
            yield world, store, tmp
    finally:
        world.standin.stop()


def _hostile(canary: Path) -> list[tuple[str, str, str | None, str | None]]:
    """(body, author, kind of answer or None when ignored, a text the answer must show inert)."""
    return [
        (f"/train $(touch {canary})", WRITER, "usage", code("$(touch", max_len=60)),
        (f"/train `touch {canary}`", WRITER, "usage", None),
        (f"/drift churn; touch {canary}", WRITER, "usage", None),
        ("/train ${{ secrets.GITHUB_TOKEN }}", WRITER, "usage", code("${{", max_len=60)),
        ('/train "a\' && echo $HOME"', WRITER, "usage", None),
        ("/train '</details><script>alert(1)</script>|x|'", WRITER, "usage", None),
        ('/train "<!-- mlops-bot:reply kind=ok-to-test key=x -->"', FORKER, "usage", None),
        ("/rollback --to $(id)", ADMIN, "usage", None),
        ("```\n/promote churn\n```", ADMIN, None, None),
        ("~~~\n/rollback\n~~~", ADMIN, None, None),
        ("> /rollback churn", ADMIN, None, None),
        ("    /promote churn", ADMIN, None, None),
        ("<!-- /rollback -->", ADMIN, None, None),
        ("text then `/rollback` inline", ADMIN, None, None),
        ("/ｒｏｌｌｂａｃｋ", ADMIN, None, None),
        ("/help\n/rollback churn", ADMIN, "help", None),
        ("x" * 100_000 + "\n/help", READER, "help", None),
        ("/help " + "x" * 100_000, READER, None, None),  # a 100 kB line is nobody's command
        ("<details><summary>" * 2_000 + "\n/train", READER, "refused", None),
    ]


@pytest.mark.slow
def test_comments_crafted_to_inject_run_nothing_and_break_no_reply(served: tuple[World, Store, Path]) -> None:
    world, store, tmp = served
    canary = tmp / "pwned"
    cases = _hostile(canary)
    sent = []
    for body, author, kind, inert in cases:
        number = world.fork_pulls[0] if author == FORKER else world.issues[0]
        sent.append((body, author, kind, inert, number, world.comment(number, body, author)))
    assert world.standin.wait_for_deliveries(30)
    wait_for(lambda: store.queue_depth() == 0, "the bot to finish", timeout=60)

    for body, _author, kind, inert, number, comment_id in sent:
        answers = world.answers(number, comment_id)
        if kind is None:
            assert answers == [], body[:80]
            assert world.bot_eyes(comment_id) == 0, body[:80]
            continue
        assert len(answers) == 1, body[:80]
        text = answers[0].body
        # The answer is one reply, keyed once: no marker forged from the comment's text.
        expected = [reply_marker("answer", str(comment_id))]
        assert find_markers(text)[:1] == expected and len(find_markers(text)) == 2, (body[:80], text)
        assert f"kind={kind}" in find_markers(text)[1]
        assert len(text) < 5_000, "the reply repeats the comment instead of answering it"
        assert "<script>" not in text.replace(code("</details><script>alert(1)</script>¦x¦", max_len=60), "")
        assert not any(line.lstrip().startswith("/") for line in text.splitlines()), text
        if inert:
            assert inert in text, (inert, text)

    assert not canary.exists()
    assert [r.id for r in store.list(limit=10_000) if r.id.startswith("job:")] == []
    assert world.standin.dispatches(REPO) == []
    assert {r.status for r in store.list(limit=10_000)} == {"done"}


@pytest.mark.slow
def test_a_captured_delivery_replayed_under_new_ids_answers_once(served: tuple[World, Store, Path]) -> None:
    """The delivery id is not signed: whoever captured one delivery can resend it under fresh ids and the
    bot accepts each. The effect is keyed by the comment, so the command is still answered once."""
    world, store, _ = served
    number = world.issues[0]
    comment_id = world.comment(number, "/help", READER)
    assert world.standin.wait_for_deliveries(30)
    record = next(d for d in world.standin.deliveries if d.payload.get("comment", {}).get("id") == comment_id)
    body = json.dumps(record.payload, separators=(",", ":")).encode()
    secret = world.settings.webhook_secret.get_secret_value().encode()
    for _ in range(5):
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "issue_comment",
                   "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": sign(body, secret)}  # fmt: skip
        response = httpx.post(f"http://127.0.0.1:{world.bot_port}/webhook", content=body, headers=headers)
        assert response.json()["status"] == "queued"
    wait_for(lambda: store.queue_depth() == 0, "the bot to finish", timeout=60)
    assert len(world.answers(number, comment_id)) == 1
    assert world.bot_eyes(comment_id) == 1
