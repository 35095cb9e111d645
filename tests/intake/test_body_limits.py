"""Issue 18, finding 6: a client without credentials cannot make the bot buffer bodies.

Through real HTTP against the real app under uvicorn on loopback, with raw sockets so the test controls
exactly how many body bytes were sent before the bot answered: a refusal that arrives while the client
has sent no body at all proves the body was never read.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.adapters.store import Store
from bot.app import create_app
from bot.core.signature import sign, sign_mlflow
from bot.demo import BotServer
from bot.settings import Settings
from tests.reliability.harness import free_port

SECRET = "intake-secret"
ML_SECRET = "ml-intake-secret"
MB = 1024 * 1024


@dataclass
class Served:
    port: int
    url: str
    store: Store


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    settings = Settings(
        webhook_secret=SECRET,
        mlflow_webhook_secret=ML_SECRET,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        **overrides,
    )
    store = Store(settings.database_url)
    server = BotServer(create_app(settings, store=store, start_worker=False), free_port())
    url = server.start()
    try:
        yield Served(server.port, url, store)
    finally:
        server.stop()
        store.close()


def _open(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    """A connection with the request line and headers sent, and no body yet."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode())
    return sock


def _answer(sock: socket.socket, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the response; fails when none arrives within `timeout`."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pytest.fail(f"no answer within {timeout} s: the bot is waiting for the body")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    with_length = int(headers.get("content-length", "0"))
    while len(body) < with_length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _github_headers(body_length: int | None, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + "0" * 64,  # well formed, wrong: the body would have to be read
    }
    if body_length is None:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(body_length)
    return {**headers, **extra}


def _send_chunked_until_answered(sock: socket.socket, total: int, chunk_size: int = 256 * 1024) -> int:
    """Send up to `total` bytes as HTTP chunks (produced lazily, never all in memory), stopping as soon
    as the server has answered; the number of body bytes sent."""
    piece = b"x" * chunk_size
    frame = f"{chunk_size:x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    while sent < total:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            return sent
        try:
            sock.sendall(frame)
        except OSError:  # the server closed the connection after answering
            return sent
        sent += chunk_size
    return sent


# ---- /webhook ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "drop", "status", "says"),
    [
        ("no signature", "X-Hub-Signature-256", 401, "X-Hub-Signature-256"),
        ("no event", "X-GitHub-Event", 400, "X-GitHub-Event"),
        ("no delivery id", "X-GitHub-Delivery", 400, "X-GitHub-Delivery"),
    ],
)
def test_an_unsigned_24_mb_body_is_refused_before_a_byte_of_it_is_sent(
    served: Served, case: str, drop: str, status: int, says: str
) -> None:
    headers = _github_headers(24 * MB)
    del headers[drop]
    with _open(served.port, "/webhook", headers) as sock:
        answer, _, body = _answer(sock)  # no body byte sent: an answer now means it was never read
    assert answer == status, case
    assert says in json.loads(body)["error"]
    assert served.store.list() == []


def test_a_declared_length_over_the_limit_is_a_413_before_the_body(served: Served) -> None:
    with _open(served.port, "/webhook", _github_headers(26 * MB)) as sock:
        status, _, body = _answer(sock)
    assert status == 413 and "larger than" in json.loads(body)["error"]


@pytest.mark.parametrize("served", [{"max_body_bytes": MB}], indirect=True)
def test_a_chunked_body_over_the_cap_is_cut_off_as_it_passes_it(served: Served) -> None:
    with _open(served.port, "/webhook", _github_headers(None)) as sock:
        sent = _send_chunked_until_answered(sock, total=64 * MB)
        status, _, body = _answer(sock)
    assert status == 413 and "larger than" in json.loads(body)["error"]
    # Answered while the client was still sending: what it sent past the cap sat in socket buffers only.
    assert sent < 16 * MB, f"the bot let {sent / MB:.0f} MB arrive before refusing a 1 MB cap"


def test_twelve_concurrent_unsigned_24_mb_bodies_are_all_refused_unread(served: Served) -> None:
    headers = _github_headers(24 * MB)
    del headers["X-Hub-Signature-256"]
    socks = [_open(served.port, "/webhook", {**headers, "X-GitHub-Delivery": f"d-{n}"}) for n in range(12)]
    try:
        statuses = [_answer(sock)[0] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    assert statuses == [401] * 12


@pytest.mark.parametrize("served", [{"max_large_bodies": 1}], indirect=True)
def test_large_bodies_beyond_the_bound_get_503_with_retry_after(served: Served) -> None:
    with _open(served.port, "/webhook", _github_headers(2 * MB)) as slow:
        slow.sendall(b"{" + b" " * 100_000)  # holds the only large-body slot, still sending
        time.sleep(0.3)
        with _open(served.port, "/webhook", _github_headers(2 * MB)) as second:
            status, headers, body = _answer(second)
        assert status == 503 and "retry later" in json.loads(body)["error"]
        assert int(headers["retry-after"]) > 0
        # A small delivery (GitHub's usual) does not need a slot.
        small = json.dumps({"action": "created", "repository": {"full_name": "acme/model"}}).encode()
        response = httpx.post(f"{served.url}/webhook", content=small, headers={
            **_github_headers(len(small)), "X-Hub-Signature-256": sign(small, SECRET.encode())})  # fmt: skip
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("served", [{"body_idle_timeout_seconds": 0.3}], indirect=True)
def test_a_client_that_stops_sending_mid_body_is_dropped(served: Served) -> None:
    with _open(served.port, "/webhook", _github_headers(10_000)) as sock:
        sock.sendall(b'{"action": ')
        status, _, body = _answer(sock, timeout=5)
    assert status == 408 and "no part of the body" in json.loads(body)["error"]


# ---- /mlflow/webhook ---------------------------------------------------------------------------------


def _mlflow_headers(body_length: int | None, *, signed: bool = True) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if signed:
        delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
        headers |= {
            "X-MLflow-Delivery-Id": delivery,
            "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": sign_mlflow(delivery, stamp, b"not the body", ML_SECRET.encode()),
        }
    if body_length is None:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(body_length)
    return headers


def test_mlflow_an_unsigned_400_mb_body_is_refused_before_it_is_sent(served: Served) -> None:
    with _open(served.port, "/mlflow/webhook", _mlflow_headers(400 * MB, signed=False)) as sock:
        status, _, body = _answer(sock)
    assert status == 401 and "missing" in json.loads(body)["error"]


def test_mlflow_a_signed_400_mb_declared_body_is_a_413_before_it_is_sent(served: Served) -> None:
    with _open(served.port, "/mlflow/webhook", _mlflow_headers(400 * MB)) as sock:
        status, _, _ = _answer(sock)
    assert status == 413


def test_mlflow_a_400_mb_chunked_body_is_cut_off_at_the_cap(served: Served) -> None:
    """Streamed lazily (never allocated); the bot answers once 25 MB have passed, not after 400."""
    with _open(served.port, "/mlflow/webhook", _mlflow_headers(None)) as sock:
        sent = _send_chunked_until_answered(sock, total=400 * MB)
        status, _, _ = _answer(sock)
    assert status == 413
    assert sent < 64 * MB, f"{sent / MB:.0f} MB sent before the 25 MB cap was enforced"
    assert served.store.list() == []


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    pytest.skip("no /proc/self/status to read the resident set size from")


def test_twelve_concurrent_unsigned_24_mb_uploads_add_little_memory(served: Served) -> None:
    """Through an ordinary client that sends every byte (uvicorn drains what the app refused to read, so
    the bytes arrive; they must not be kept). Measured: +491 MB before the fix, +14 MB after; the server runs in this
    process, so this process's RSS is the server's (the clients reuse one 64 kB piece)."""
    piece = b"x" * (64 * 1024)

    async def upload(n: int) -> int:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(24 * MB // len(piece)):
                yield piece

        headers = {**_github_headers(24 * MB), "X-GitHub-Delivery": f"rss-{n}"}
        del headers["X-Hub-Signature-256"]
        async with httpx.AsyncClient(timeout=60) as http:
            return (await http.post(f"{served.url}/webhook", content=body(), headers=headers)).status_code

    async def all_uploads() -> list[int]:
        return await asyncio.gather(*(upload(n) for n in range(12)))

    before = _rss_bytes()
    statuses = asyncio.run(all_uploads())
    grown = _rss_bytes() - before
    assert statuses == [401] * 12
    assert grown < 50 * MB, f"RSS grew by {grown / MB:.0f} MB"
