"""The bot's webhook intake against a Probot app with an empty handler, same machine, same run, same client.

Servers (each its own process on 127.0.0.1):
  probot    bench/probot: Probot (version pinned in its package.json) with one empty `issue_comment.created`
            handler, started with `probot run` as Probot's docs do (LOG_LEVEL=warn: no line per request,
            as uvicorn runs without an access log). Probot answers 200 after its handlers ran.
  bare      a FastAPI endpoint that checks the HMAC and answers 202 (bench/webhook.py)
  durable   the real app without a worker: verify, parse, record in SQLite, 202 (`serve --no-worker`)
  +worker   the real app with its in-process worker draining the queue (what `mlops-bot serve` runs)

Client: bench/webhook.py's request bytes (same ~6 KB `issue_comment` body, same signature, fresh
X-GitHub-Delivery each) over one keep-alive HTTP/1.1 connection per concurrent sender; 200 warm-up
requests, then `--requests` per level. Probot is installed with npm into a cache directory (not the
repository) the first time.

    .venv/bin/python bench/webhook_vs_probot.py [--requests 2000] [--levels 1,32] [--servers probot,bare,durable,+worker]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook import SECRET, cpu_seconds, free_port, request_bytes, sample_body, start_server

from bot.core.signature import sign

PROBOT_APP = Path(__file__).resolve().parent / "probot"


# ---- Probot ---------------------------------------------------------------------------------------


def probot_dir(cache: Path) -> Path:
    """bench/probot installed with npm under `cache` (reinstalled when its package.json changes)."""
    manifest = (PROBOT_APP / "package.json").read_text()
    version = json.loads(manifest)["dependencies"]["probot"]
    target = cache / f"probot-{version}"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "app.js"):
        shutil.copyfile(PROBOT_APP / name, target / name)
    stamp = target / ".installed"
    if not stamp.exists() or stamp.read_text() != manifest:
        print(f"installing probot {version} into {target} ...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True
        )
        stamp.write_text(manifest)
    return target


def start_probot(directory: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], int]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_path = scratch / "probot-key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    port = free_port()
    env = {
        **os.environ,
        "APP_ID": "1",
        "PRIVATE_KEY_PATH": str(key_path),
        "WEBHOOK_SECRET": SECRET.decode(),
        "WEBHOOK_PATH": "/webhook",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "warn",
        "NODE_ENV": "production",
    }
    proc = subprocess.Popen([str(directory / "node_modules" / ".bin" / "probot"), "run", "./app.js"], cwd=directory,
                            env=env)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the Probot app did not start")


# ---- client ---------------------------------------------------------------------------------------


async def one_connection(port: int, body: bytes, signature: str, todo: list[int], latencies: list[float],
                         statuses: Counter[int]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while todo:
            todo.pop()
            message = request_bytes(port, body, signature, str(uuid.uuid4()))
            started = time.perf_counter()
            writer.write(message)
            head = await reader.readuntil(b"\r\n\r\n")
            length, chunked = 0, False
            for line in head.split(b"\r\n"):
                lowered = line.lower()
                if lowered.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif lowered.startswith(b"transfer-encoding:") and b"chunked" in lowered:
                    chunked = True
            if chunked:
                await reader.readuntil(b"0\r\n\r\n")
            else:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[int(head[9:12])] += 1
    finally:
        writer.close()


async def load(port: int, concurrency: int, requests: int) -> tuple[float, list[float], Counter[int]]:
    body = sample_body()
    signature = sign(body, SECRET)
    todo = list(range(requests))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    await asyncio.gather(
        *(one_connection(port, body, signature, todo, latencies, statuses) for _ in range(concurrency))
    )
    return time.perf_counter() - started, latencies, statuses


@dataclass
class Result:
    server: str
    concurrency: int
    requests: int
    seconds: float
    p50: float
    p99: float
    failed: int  # answers that were not 2xx
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def measure(server: str, pid: int, port: int, concurrency: int, requests: int) -> Result:
    asyncio.run(load(port, concurrency, min(200, requests)))  # warm-up: connections, JIT, lazy imports
    cpu_before = cpu_seconds(pid)
    seconds, latencies, statuses = asyncio.run(load(port, concurrency, requests))
    cpu = cpu_seconds(pid) - cpu_before
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    failed = sum(n for status, n in statuses.items() if not 200 <= status < 300)
    return Result(server, concurrency, requests, seconds, statistics.median(latencies), p99, failed, cpu)


def report(results: list[Result]) -> str:
    probot = {r.concurrency: r for r in results if r.server == "probot"}
    lines = [
        "| c | server | deliveries/s | p50 ms | p99 ms | rate x probot | p50 x probot | p99 x probot | CPU us/req | non-2xx |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        base = probot.get(r.concurrency)

        def ratio(mine: float, theirs: float | None) -> str:
            return f"{mine / theirs:.2f}" if theirs else "-"

        lines.append(
            f"| {r.concurrency} | {r.server} | {r.rate:.0f} | {r.p50 * 1e3:.2f} | {r.p99 * 1e3:.2f} | "
            f"{ratio(r.rate, base.rate if base else None)} | {ratio(r.p50, base.p50 if base else None)} | "
            f"{ratio(r.p99, base.p99 if base else None)} | {r.server_cpu / r.requests * 1e6:.0f} | {r.failed} |"
        )
    return "\n".join(lines)


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="deliveries per concurrency level")
    parser.add_argument("--levels", default="1,32")
    parser.add_argument("--servers", default="probot,bare,durable,+worker")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "mlops-bot-bench", help="where npm installs Probot (default: %(default)s)")  # fmt: skip
    args = parser.parse_args()
    if shutil.which("npm") is None or shutil.which("node") is None:
        print("node and npm are needed for the Probot baseline", file=sys.stderr)
        return 2

    levels = [int(x) for x in args.levels.split(",")]
    kinds = args.servers.split(",")
    installed = probot_dir(args.cache) if "probot" in kinds else None
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bot-bench-") as scratch_name:
        scratch = Path(scratch_name)
        # Interleave the servers per level, so a change in the machine's load hits all of them alike.
        for concurrency in levels:
            for kind in kinds:
                if kind == "probot":
                    assert installed is not None
                    proc, port = start_probot(installed, scratch)
                else:
                    proc, port = start_server(kind, f"sqlite:///{scratch / kind.strip('+')}-{concurrency}.db")
                try:
                    results.append(measure(kind, proc.pid, port, concurrency, args.requests))
                    print(report(results[-1:]).splitlines()[-1], flush=True)
                finally:
                    proc.terminate()
                    proc.wait(10)
    print()
    load_average = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load_average:.1f} before the last run, Python "
          f"{sys.version.split()[0]}, node {node_version()}, {time.strftime('%Y-%m-%d')}")  # fmt: skip
    print(report(sorted(results, key=lambda r: (r.concurrency, r.server != "probot"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
