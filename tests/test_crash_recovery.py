"""Deliveries survive `kill -9`: a real `mlops-bot serve` is killed mid-job, restarted, and every delivery
is completed exactly once in effect."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.core.signature import sign

SECRET = "crash-secret"
HERE = Path(__file__).parent
LEASE_SECONDS = 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(tmp_path: Path, port: int, handler_seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "MLOPS_BOT_WEBHOOK_SECRET": SECRET,
        "MLOPS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "MLOPS_BOT_HANDLER": "slow_handler:handle",
        "PYTHONPATH": os.pathsep.join([str(HERE / "intake"), os.environ.get("PYTHONPATH", "")]),
        "SLOW_HANDLER_LOG": str(tmp_path / "effects.log"),
        "SLOW_HANDLER_SECONDS": str(handler_seconds),
    }
    command = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--log-level", "warning",
               "--lease-seconds", str(LEASE_SECONDS), "--poll-interval", "0.2"]  # fmt: skip
    with open(tmp_path / f"serve-{port}.log", "ab") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
            assert time.monotonic() < deadline, "mlops-bot serve did not start"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def _deliver(port: int, delivery_id: str) -> None:
    body = json.dumps({"action": "created", "n": delivery_id}).encode()
    headers = {
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(body, SECRET.encode()),
        "Content-Type": "application/json",
    }
    response = httpx.post(f"http://127.0.0.1:{port}/webhook", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text


def _effects(tmp_path: Path) -> Counter[str]:
    log = tmp_path / "effects.log"
    return Counter(log.read_text().splitlines()) if log.exists() else Counter()


def _wait_for(condition: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _statuses(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "MLOPS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    out = subprocess.run([sys.executable, "-m", "bot", "deliveries", "--json"], env=env, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return {row["id"]: row["status"] for row in json.loads(out)}


@pytest.mark.slow
def test_a_job_killed_mid_run_completes_once_after_restart(tmp_path: Path) -> None:
    port = _free_port()
    with _serve(tmp_path, port, handler_seconds=30) as first:
        _deliver(port, "killed-mid-job")
        _deliver(port, "still-queued")
        _wait_for(lambda: _effects(tmp_path)["start killed-mid-job"] == 1, "the first job to start")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    # Both deliveries were answered 202 before the crash, so both must still be there.
    assert _statuses(tmp_path) == {"killed-mid-job": "running", "still-queued": "queued"}

    with _serve(tmp_path, port, handler_seconds=0.1):
        _wait_for(lambda: set(_statuses(tmp_path).values()) == {"done"}, "both deliveries to be done")

    effects = _effects(tmp_path)
    assert effects["done killed-mid-job"] == 1
    assert effects["done still-queued"] == 1
    assert effects["start killed-mid-job"] == 2  # the killed attempt, then the one after its lease expired
    assert effects["start still-queued"] == 1
