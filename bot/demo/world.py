"""The demo's world, declared: the repository, its people and model, the App, and the data it is fed; the
bot under uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REPO = "acme/breast-cancer"
MAINTAINER = "alice"
READER = "bob"
MODEL = "breast-cancer"
APP_ID = 4242

Progress = Callable[[str], None]


class DemoError(Exception):
    """A step of the demo did not happen in time; the message says which and where to look."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BotServer:
    """The bot under uvicorn in a thread, with its in-process worker."""

    app: Any
    port: int
    _server: Any = None
    _thread: threading.Thread | None = None

    def start(self) -> str:
        import uvicorn

        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="bot-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not getattr(self._server, "started", False):
            if time.monotonic() > deadline:
                raise DemoError("the bot did not start listening within 15 s")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def feature_rows(n: int) -> list[list[float]]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer().data
    return [[float(x) for x in row] for row in data[:n]]


def production_csv(shifted: list[str], rows: int = 400, seed: int = 7) -> str:
    """Production rows drawn from the same population, with `shifted` columns moved by 2 std."""
    from sklearn.datasets import load_breast_cancer

    features = load_breast_cancer(as_frame=True).data
    sample = features.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    for column in shifted:
        sample[column] += 2 * features[column].std()
    return str(sample.to_csv(index=False))
