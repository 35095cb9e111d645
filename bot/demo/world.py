"""The demo's world, declared: the repository, its people and model, the App, the traffic its service is
sent; the bot under uvicorn in a thread."""

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


# The demo's production world: what moves in the shifted windows, and the unit error of one client.
SHIFTED = {"mean radius": 2.0, "worst texture": 2.0}  # column -> standard deviations added
WRONG_UNIT = {"mean area": 100.0}  # column -> factor (a client sending the area in the wrong unit)
# The retrain PR asks for this snapshot (the template says "{date}", a new split on every run): the demo pins it
# so that the retrained model's gate verdict against the champion is the same on every run.
RETRAIN_SNAPSHOT = "2024-02"


@dataclass(frozen=True)
class Batch:
    """Rows drawn (with replacement) from the sample's population, in the model's column order, with the
    true diagnosis of each and which rows were moved."""

    rows: list[list[float]]
    truth: list[int]
    moved: list[bool]


def draw(
    rows: int,
    *,
    seed: int,
    share: float = 0.0,
    shift: dict[str, float] | None = None,
    scale: dict[str, float] | None = None,
) -> Batch:
    """`rows` patients; `share` of them moved: `shift` columns by that many standard deviations, `scale`
    columns multiplied by that factor."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    features = data.data
    picked = features.sample(n=rows, replace=True, random_state=seed)
    truth = [int(t) for t in data.target.loc[picked.index]]
    sample = picked.reset_index(drop=True)
    moved = np.random.default_rng(seed).random(rows) < share
    for column, std in (shift or {}).items():
        sample.loc[moved, column] += std * features[column].std()
    for column, factor in (scale or {}).items():
        sample.loc[moved, column] *= factor
    values = [[float(x) for x in row] for row in sample.to_numpy()]
    return Batch(values, truth, [bool(m) for m in moved])


def served_config(text: str, *, location: str, flush_seconds: float = 0.5) -> str:
    """The sample's `.github/mlops-bot.yml` as the demo's repository has it: the traffic log where both the
    demo's service and the bot's checks reach it, written within `flush_seconds`, and the pinned snapshot."""
    lines = text.splitlines(keepends=True)
    traffic = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("location: mlops-bot-traffic")]
    snapshot = [i for i, ln in enumerate(lines) if 'data.snapshot: "{date}"' in ln]
    if len(traffic) != 1 or len(snapshot) != 1:
        raise DemoError(
            "templates/project/.github/mlops-bot.yml no longer has one `location: mlops-bot-traffic` and one "
            '`data.snapshot: "{date}"` line for the demo to set'
        )
    indent = lines[traffic[0]][: len(lines[traffic[0]]) - len(lines[traffic[0]].lstrip())]
    lines[traffic[0]] = f'{indent}location: "{location}"\n{indent}flush_seconds: {flush_seconds}\n'
    lines[snapshot[0]] = lines[snapshot[0]].replace('"{date}"', f'"{RETRAIN_SNAPSHOT}"')
    return "".join(lines)
