"""The GitHub stand-in: a stateful GitHub on 127.0.0.1, the object tests and `mlops-bot demo` hold.

`StandIn` is a façade composed of one part per GitHub resource (bot/standin/domain/): accounts, repositories,
issues, pull requests, checks and deployments, workflows; webhooks and shared JSON live in
`domain/events.py`, state in `domain/state.py`. REST handlers (bot/standin/rest/) and the test API call
the same domain operations, so a PR opened by a test and one opened over REST behave alike.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.standin.domain.accounts import Accounts
from bot.standin.domain.checks import Checks
from bot.standin.domain.issues import Issues
from bot.standin.domain.pulls import Pulls
from bot.standin.domain.repos import Repos
from bot.standin.domain.state import API_PREFIX, RequestLog, StandInError, Violation
from bot.standin.domain.workflows import Workflows

__all__ = ["API_PREFIX", "RequestLog", "StandIn", "StandInError", "Violation"]


class StandIn(Accounts, Repos, Issues, Pulls, Checks, Workflows):
    """A stateful GitHub on 127.0.0.1 backed by real git repositories.

    Use as a context manager or call `start()`/`stop()`. Every REST request is validated against
    GitHub's OpenAPI description; in strict mode `check()` raises when any request did not validate.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        strict: bool = True,
        app_slug: str = "mlops-bot",
    ) -> None:
        super().__init__(
            data_dir,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            strict=strict,
            app_slug=app_slug,
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0 picks a free port) from a background thread; returns `base_url`."""
        import uvicorn

        from bot.standin.api import build_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        self.html_url = f"http://{host}:{bound_port}"
        self.base_url = f"{self.html_url}{API_PREFIX}"
        config = uvicorn.Config(build_app(self), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="standin-http", daemon=True
        )
        self._thread.start()
        self._sender.start()
        for repo in list(self.repos.values()):
            self.install_push_hook(repo)  # hooks written before start() did not know the URL
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the GitHub stand-in did not start within 10 s")
            time.sleep(0.005)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and flush webhooks."""
        self._sender.wait(5)
        self._sender.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandIn:
        if not self.base_url:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
