"""Helpers for tests (and the demo) that drive the stand-in: a webhook receiver and a strict check.

Typical pytest use::

    @pytest.fixture(scope="module")
    def standin(tmp_path_factory):
        with WebhookReceiver() as hooks, StandIn(tmp_path_factory.mktemp("gh"), webhook_url=hooks.url,
                                                 webhook_secret="s") as gh:
            yield gh

    @pytest.fixture
    def gh(standin):
        yield standin
        assert_clean(standin)   # strict mode: fail the test on any request that broke GitHub's description
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from bot.standin.server import StandIn


@dataclass
class ReceivedHook:
    event: str
    delivery: str
    signature: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST (what GitHub would deliver to the bot)."""

    def __init__(self, *, status: int = 202, delay_s: float = 0.0) -> None:
        self.status = status
        self.delay_s = delay_s
        self.hooks: list[ReceivedHook] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                receiver.hooks.append(
                    ReceivedHook(
                        self.headers.get("X-GitHub-Event", ""),
                        self.headers.get("X-GitHub-Delivery", ""),
                        self.headers.get("X-Hub-Signature-256", ""),
                        {k: v for k, v in self.headers.items()},
                        body,
                    )
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, name="hook-receiver", daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def assert_clean(standin: StandIn) -> None:
    """Fail when any request broke GitHub's REST description or any answer broke its response schema.

    The lists are cleared first, so one bad test does not fail the next ones sharing the stand-in.
    """
    problems = [*standin.violations, *standin.response_problems]
    standin.violations.clear()
    standin.response_problems.clear()
    if problems:
        lines = "\n".join(f"  {p.method} {p.path}: {p.reason}" for p in problems[:20])
        raise AssertionError(f"{len(problems)} problem(s) with GitHub's REST description:\n{lines}")


def app_key_pair() -> tuple[str, str]:
    """A fresh RSA key for a GitHub App: (private key PEM for the bot, public key PEM for `register_app`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    return private_pem, public_pem
