"""Webhook intake benchmark: time-to-202 and deliveries/s of the real `/webhook` against a bare endpoint.

Servers (each a uvicorn process on 127.0.0.1, same uvicorn options):
  bare      a FastAPI endpoint that reads the body, checks the HMAC and answers 202; nothing else
  durable   the real app (`bot.app.create_app`), no worker: verify, parse, record in SQLite, 202
  +worker   the real app with its in-process worker draining the queue with a no-op handler
            (what `mlops-bot serve` runs by default)
  pg        `durable` recording in PostgreSQL (`serve --no-worker` of a scaled-out deployment)
  pg-x2     two such processes on one PostgreSQL database, the client's connections split between them
            (two web replicas behind a load balancer)
The pg servers need a PostgreSQL server: `--postgres URL` or MLOPS_BOT_TEST_POSTGRES_URL (each run gets a
fresh database on it, migrated with the bot's migrations, dropped afterwards).

Client: a small asyncio HTTP/1.1 client with one keep-alive connection per concurrent sender, so the
client costs little CPU and the servers, not the client, are measured. Each level sends a fixed number of
signed deliveries (same body, fresh X-GitHub-Delivery each), after a warm-up.

    .venv/bin/python bench/webhook.py [--requests 2000] [--levels 1,32,128] [--servers bare,durable,+worker]
    MLOPS_BOT_TEST_POSTGRES_URL=$(bash scripts/ci-postgres.sh) .venv/bin/python bench/webhook.py \
        --servers durable,pg,pg-x2
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot.core.signature import sign, verify

SECRET = b"bench-secret"
_ROOT = Path(__file__).resolve().parent.parent


# ---- servers --------------------------------------------------------------------------------------


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        if not verify(body, request.headers.get("x-hub-signature-256"), [SECRET]).ok:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        return JSONResponse({"delivery": request.headers.get("x-github-delivery"), "status": "queued"}, 202)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def real_app(database_url: str, with_worker: bool) -> FastAPI:
    from bot.app import create_app
    from bot.settings import Settings

    settings = Settings(webhook_secret=SECRET.decode(), database_url=database_url)  # type: ignore[call-arg]
    return create_app(settings, handle=lambda _delivery: None, start_worker=with_worker, poll_interval=0.2)


def serve(kind: str, port: int, database: str) -> None:
    import uvicorn

    app = bare_app() if kind == "bare" else real_app(database, with_worker=kind == "+worker")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        backlog=1024,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(kind: str, database: str) -> tuple[subprocess.Popen[bytes], int]:
    """One server process; `database` is a SQLAlchemy URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--database", database], env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


# ---- client ---------------------------------------------------------------------------------------


def sample_body() -> bytes:
    """An issue_comment delivery of a typical size (~7 KB)."""
    user = {"login": "octocat", "id": 1, "type": "User", "site_admin": False, "url": "x" * 60}
    repo = {
        "id": 1,
        "full_name": "acme/churn-model",
        "private": True,
        "owner": user,
        "description": "d" * 400,
    }
    issue = {"number": 7, "title": "Try a deeper tree", "user": user, "body": "b" * 2000, "labels": []}
    comment = {"id": 42, "user": user, "body": "/card", "html_url": "u" * 80}
    payload = {"action": "created", "issue": issue, "comment": comment, "repository": repo, "sender": user,
               "installation": {"id": 99}, "padding": ["p" * 60] * 40}  # fmt: skip
    return json.dumps(payload).encode()


def request_bytes(port: int, body: bytes, signature: str, delivery_id: str) -> bytes:
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-GitHub-Event: issue_comment\r\n"
        f"X-GitHub-Delivery: {delivery_id}\r\n"
        f"X-Hub-Signature-256: {signature}\r\nUser-Agent: GitHub-Hookshot/bench\r\n\r\n"
    )
    return head.encode() + body


async def one_connection(
    port: int, body: bytes, signature: str, todo: list[int], latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    not_accepted = 0
    try:
        while todo:
            todo.pop()
            message = request_bytes(port, body, signature, str(uuid.uuid4()))
            started = time.perf_counter()
            writer.write(message)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if head[9:12] != b"202":
                not_accepted += 1
    finally:
        writer.close()
    return not_accepted


@dataclass
class Result:
    server: str
    concurrency: int
    requests: int
    seconds: float
    p50: float
    p99: float
    errors: int
    server_cpu: float
    drained_cpu: float | None = None  # +worker: server CPU until the worker has finished every delivery sent
    drain_s: float | None = None  # ... and how long after the last 202 that was

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def load(ports: list[int], concurrency: int, requests: int) -> tuple[float, list[float], int]:
    """Send `requests` deliveries over `concurrency` connections, spread round-robin over `ports`."""
    body = sample_body()
    signature = sign(body, SECRET)
    todo = list(range(requests))
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(
        *(one_connection(ports[n % len(ports)], body, signature, todo, latencies) for n in range(concurrency))
    )
    return time.perf_counter() - started, latencies, sum(errors)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux): robust to other load on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    server: str,
    procs: list[subprocess.Popen[bytes]],
    ports: list[int],
    concurrency: int,
    requests: int,
    waiting: Callable[[], int] | None = None,
) -> Result:
    """`waiting` (for +worker): how many deliveries are not done yet; the worker's CPU counts until none is,
    as a worker that falls behind would otherwise do its work after the measurement and look cheap."""
    asyncio.run(load(ports, concurrency, min(200, requests)))  # warm-up: connections, lazy imports
    if waiting is not None:
        _drain(waiting)
    cpu_before = sum(cpu_seconds(proc.pid) for proc in procs)
    seconds, latencies, errors = asyncio.run(load(ports, concurrency, requests))
    cpu = sum(cpu_seconds(proc.pid) for proc in procs) - cpu_before
    drained_cpu = drain_s = None
    if waiting is not None:
        drain_s = _drain(waiting)
        drained_cpu = sum(cpu_seconds(proc.pid) for proc in procs) - cpu_before
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(
        server,
        concurrency,
        requests,
        seconds,
        statistics.median(latencies),
        p99,
        errors,
        cpu,
        drained_cpu,
        drain_s,
    )


def _drain(waiting: Callable[[], int], timeout: float = 300.0) -> float:
    started = time.perf_counter()
    while waiting() > 0:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"the worker did not finish the queue in {timeout:g} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def waiting_in(url: str) -> int:
    """Deliveries queued or running in the SQLite database `url`."""
    with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
        return int(
            db.execute("SELECT count(*) FROM deliveries WHERE status IN ('queued', 'running')").fetchone()[0]
        )


def report(results: list[Result]) -> str:
    bare = {r.concurrency: r for r in results if r.server == "bare"}
    lines = [
        f"{'c':>4}  {'server':<8} {'deliv/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99 x bare':>10} "
        f"{'rate x bare':>11} {'CPU us/req':>10} {'non-202':>7}"
    ]
    for r in results:
        base = bare.get(r.concurrency)
        p99_ratio = f"{r.p99 / base.p99:.2f}" if base else "-"
        rate_ratio = f"{r.rate / base.rate:.2f}" if base else "-"
        lines.append(
            f"{r.concurrency:>4}  {r.server:<8} {r.rate:>8.0f} {r.p50 * 1e3:>8.2f} {r.p99 * 1e3:>8.2f} "
            f"{p99_ratio:>10} {rate_ratio:>11} {r.server_cpu / r.requests * 1e6:>10.0f} {r.errors:>7}"
        )
    drained = [r for r in results if r.drained_cpu is not None]
    for r in drained:
        assert r.drained_cpu is not None and r.drain_s is not None
        lines.append(
            f"{r.concurrency:>4}  {r.server:<8} until the worker finished: CPU {r.drained_cpu / r.requests * 1e6:.0f}"
            f" us/req, queue empty {r.drain_s:.2f} s after the last 202"
        )
    return "\n".join(lines)


def durable_rates(results: list[Result]) -> str:
    """Durable deliveries/s per concurrency: SQLite against PostgreSQL with one and two web processes."""
    columns = [
        ("durable", "SQLite, 1 process"),
        ("pg", "PostgreSQL, 1 process"),
        ("pg-x2", "PostgreSQL, 2 processes"),
    ]
    present = [(kind, title) for kind, title in columns if any(r.server == kind for r in results)]
    rate = {(r.server, r.concurrency): r.rate for r in results}
    lines = [f"{'c':>4}  " + "  ".join(f"{title:>24}" for _, title in present)]
    for concurrency in sorted({r.concurrency for r in results}):
        cells = [rate.get((kind, concurrency)) for kind, _ in present]
        lines.append(f"{concurrency:>4}  " + "  ".join(f"{c:>24.0f}" if c else f"{'-':>24}" for c in cells))
    return "\n".join(lines)


@contextmanager
def database_for(kind: str, scratch: str, postgres: str | None) -> Iterator[str]:
    """A fresh database URL for one server kind: a SQLite file, or a new migrated PostgreSQL database."""
    if not kind.startswith("pg"):
        yield f"sqlite:///{Path(scratch) / (kind.strip('+') + '.db')}"
        return
    if not postgres:
        raise SystemExit("the pg servers need --postgres URL (or MLOPS_BOT_TEST_POSTGRES_URL)")
    from sqlalchemy import create_engine, make_url, text

    from bot.adapters import migrations

    name = f"mlops_bot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(postgres).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stored_deliveries(url: str) -> int:
    if url.startswith("sqlite:///"):
        return int(
            sqlite3.connect(url.removeprefix("sqlite:///"))
            .execute("SELECT count(*) FROM deliveries")
            .fetchone()[0]
        )
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one())
    engine.dispose()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="deliveries per concurrency level")
    parser.add_argument("--levels", default="1,32,128")
    parser.add_argument("--servers", default="bare,durable,+worker")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MLOPS_BOT_TEST_POSTGRES_URL"),
        help="PostgreSQL server for the pg servers (default: $MLOPS_BOT_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database)
        return 0

    levels = [int(x) for x in args.levels.split(",")]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bot-bench-") as scratch:
        for kind in args.servers.split(","):
            with database_for(kind, scratch, args.postgres) as database:
                processes = 2 if kind.endswith("-x2") else 1
                started = [start_server(kind.removesuffix("-x2"), database) for _ in range(processes)]
                procs, ports = [p for p, _ in started], [port for _, port in started]
                try:
                    for concurrency in levels:
                        waiting = functools.partial(waiting_in, database) if kind == "+worker" else None
                        results.append(measure(kind, procs, ports, concurrency, args.requests, waiting))
                        print("\n".join(report(results[-1:]).splitlines()[1:]), flush=True)
                finally:
                    for proc in procs:
                        proc.terminate()
                        proc.wait(10)
                if kind != "bare":
                    stored = stored_deliveries(database)
                    sent = sum(r.requests + min(200, r.requests) for r in results if r.server == kind)
                    print(f"{kind}: {stored} deliveries in the database for {sent} sent", flush=True)
    print()
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    print(report(sorted(results, key=lambda r: (r.concurrency, r.server != "bare"))))
    if any(r.server.startswith("pg") for r in results):
        print()
        print("durable deliveries/s")
        print(durable_rates(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
