"""The demo's production: the champion's bento served on loopback (as `bot.adapters.bentoml.serve` serves it),
the clients that call it, and the labels they send back later through `POST /feedback`.

Nothing here writes what the monitoring check reads: the service logs every answered row itself
(`bot/adapters/traffic_log.py`, under the repository's `drift.traffic.location`), and the check reads that log.
The demo only counts the logged rows, to wait until a window is written and to say what the check should see.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.demo.world import Batch, DemoError, free_port

ROWS_PER_REQUEST = 20  # a client sends its patients in small batches, as a clinic's system would


@dataclass
class Window:
    """One window of traffic: who answered, what was sent, what came back."""

    name: str
    version: str  # the model version whose service answered
    requests: int
    rows: int
    moved_rows: int
    moved: str  # what was moved in those rows, for a reader
    request_ids: list[str] = field(repr=False)
    truth: list[int] = field(repr=False)
    answers: list[Any] = field(repr=False)  # what the service predicted for each row
    labels: dict[str, Any] = field(default_factory=dict)

    def to_summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "served_by": self.version,
            "requests": self.requests,
            "rows": self.rows,
            "moved_rows": self.moved_rows,
            "moved": self.moved,
            "labels": dict(self.labels),
        }


class Service:
    """The champion's bento, served on a free loopback port until `stop` (or the next `serve`)."""

    def __init__(self, bentoml_home: Path | None, location: Path) -> None:
        self.bentoml_home = bentoml_home
        self.location = location  # the folder the service's traffic log writes (drift.traffic.location)
        self.version: str | None = None
        self.url = ""
        self._stack: contextlib.ExitStack | None = None

    def serve(self, version: Any) -> str:
        """Serve `version`'s bento (its registry tag `mlops_bot.bento_tag`); stop the one served before."""
        from bot.adapters.bentoml import serve

        tag = version.tags.get("mlops_bot.bento_tag")
        if not tag:
            raise DemoError(
                f"version {version.version} has no bento (tag mlops_bot.bento_tag): was it promoted?"
            )
        self.stop()
        stack = contextlib.ExitStack()
        self.url = stack.enter_context(serve(tag, port=free_port(), bentoml_home=self.bentoml_home))
        self._stack, self.version = stack, str(version.version)
        return str(tag)

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self.version, self.url = None, None, ""

    def predict(self, rows: list[list[float]]) -> Any:
        """One `POST /predict`, as any client sends it."""
        import httpx

        answer = httpx.post(f"{self.url}/predict", json={"rows": rows}, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def send(self, name: str, batch: Batch, moved: str = "") -> Window:
        """Each `ROWS_PER_REQUEST` rows as one `POST /predict`; the answer's X-Request-Id names each row."""
        import httpx

        if self.version is None:
            raise DemoError("no model is served: serve the champion first")
        ids: list[str] = []
        answers: list[Any] = []
        requests = 0
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for start in range(0, len(batch.rows), ROWS_PER_REQUEST):
                chunk = batch.rows[start : start + ROWS_PER_REQUEST]
                answer = client.post("/predict", json={"rows": chunk})
                answer.raise_for_status()
                given = answer.headers.get("x-request-id", "").split(",")
                if len(given) != len(chunk):
                    raise DemoError(f"/predict answered {len(chunk)} rows with {len(given)} request ids")
                ids += given
                answers += answer.json()
                requests += 1
        return Window(
            name=name,
            version=self.version,
            requests=requests,
            rows=len(ids),
            moved_rows=sum(batch.moved),
            moved=moved,
            request_ids=ids,
            truth=list(batch.truth),
            answers=answers,
        )

    def feedback(self, request_ids: list[str], labels: list[int]) -> int:
        """`POST /feedback` in batches of 100; how many labels the service stored."""
        import httpx

        stored = 0
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for start in range(0, len(request_ids), 100):
                answer = client.post(
                    "/feedback",
                    json={
                        "request_ids": request_ids[start : start + 100],
                        "labels": labels[start : start + 100],
                    },
                )
                answer.raise_for_status()
                stored += int(answer.json()["stored"])
        return stored

    def logged_rows(self) -> int:
        """Rows the traffic log has written so far (Parquet footers only)."""
        import pyarrow.parquet as pq

        return sum(pq.read_metadata(p).num_rows for p in self._prediction_files())

    def wait_logged(self, rows: int, timeout: float = 30) -> int:
        """Until the log holds at least `rows` rows (it writes every `flush_seconds`)."""
        deadline = time.monotonic() + timeout
        while (logged := self.logged_rows()) < rows:
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the service's traffic log holds {logged} rows after {timeout:.0f} s, expected {rows}"
                )
            time.sleep(0.2)
        return logged

    def answered_by(self, request_ids: list[str]) -> dict[str, int]:
        """Which model version the log says answered each of these rows."""
        import pandas as pd

        wanted = set(request_ids)
        counts: Counter[str] = Counter()
        for path in self._prediction_files():
            frame = pd.read_parquet(path, columns=["request_id", "model_version"])
            counts.update(frame.loc[frame["request_id"].isin(wanted), "model_version"].astype(str))
        return dict(sorted(counts.items()))

    def _prediction_files(self) -> list[Path]:
        folder = self.location / "predictions"
        if not folder.exists():
            return []
        return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))


def wrong_labels(truth: list[int], share: float, seed: int) -> list[int]:
    """The labels as they come back when `share` of them contradict the world the champion learned."""
    import numpy as np

    flip = np.random.default_rng(seed).random(len(truth)) < share
    return [1 - t if f else t for t, f in zip(truth, flip, strict=True)]
