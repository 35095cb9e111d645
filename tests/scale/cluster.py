"""Real `mlops-bot serve --no-worker` and `mlops-bot worker` processes on one database, for the scale-out
suite: started as subprocesses, waited for until they are ready, killed with -9 when a test says so."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.adapters.store import Store

ROOT = Path(__file__).resolve().parents[2]
SECRET = "scale-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Replica:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a container or node dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Cluster:
    database_url: str
    scratch: Path
    handler: str
    env: dict[str, str] = field(default_factory=dict)
    lease_seconds: float = 4.0
    replicas: list[Replica] = field(default_factory=list)

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MLOPS_BOT_DATABASE_URL": self.database_url,
            "MLOPS_BOT_WEBHOOK_SECRET": SECRET,
            "MLOPS_BOT_HANDLER": self.handler,
            "MLOPS_BOT_RETRY_BASE_SECONDS": "0.2",
            **self.env,
        }

    def _start(self, name: str, args: list[str], port: int | None = None) -> Replica:
        log = self.scratch / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", *args, "--log-level", "warning"],
                cwd=ROOT,
                env=self._environment(),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        replica = Replica(name, process, log, port)
        self.replicas.append(replica)
        return replica

    def serve(self, name: str) -> Replica:
        port = free_port()
        return self._start(name, ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)], port)

    def worker(self, name: str) -> Replica:
        args = [
            "worker",
            "--worker-id",
            name,
            "--lease-seconds",
            str(self.lease_seconds),
            "--poll-interval",
            "0.1",
        ]
        return self._start(name, args)

    def wait_ready(self, store: Store, timeout: float = 60) -> None:
        """Every serve answers /healthz and every worker has listed itself as live."""
        for replica in self.replicas:
            if replica.port is not None:
                wait_until(lambda r=replica: self._healthy(r), timeout, f"{replica.name} to answer /healthz")
        workers = {r.name for r in self.replicas if r.port is None and r.process.poll() is None}
        wait_until(
            lambda: workers <= {p.id for p in store.live_processes("worker")}, timeout, f"workers {workers}"
        )

    def _healthy(self, replica: Replica) -> bool:
        if replica.process.poll() is not None:
            raise AssertionError(f"{replica.name} exited:\n{replica.output()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.terminate()
        for replica in self.replicas:
            try:
                replica.process.wait(10)
            except subprocess.TimeoutExpired:
                replica.kill()
