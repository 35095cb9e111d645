"""A warm job runner: one long-lived process that has imported the bot's heavy SDKs once and forks a fresh
child for every job step (issue 12).

A cold step (`python -m bot promote ...`) spends 3-5 s importing mlflow, scikit-learn, pandas and dvc before
it does anything; a child forked from this server starts with them in memory. Each step is still a process
of its own, as isolated from the others as a cold one: its environment is replaced whole (never merged with
the server's), it has its own working directory, its own session (so the executor's kill of the process
group reaches everything it starts) and its own log file. Nothing of one job reaches the next because the
server never runs a job itself: it imports, and forks.

The server is single-threaded (forking a threaded process can copy a lock another thread holds) and speaks
JSON lines over a Unix socket in a 0700 folder of the bot's work dir: a request
`{"args": [...], "cwd": ..., "env": {...}, "log": ...}` is answered at once with the child's `{"pid": N}`
and, when the child ends, with its `{"code": C}`. It ends when its parent does (EOF on its stdin).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

log = logging.getLogger(__name__)

# What a job step imports before its first line of work (measured: mlflow ~2.8 s, scikit-learn ~1.8 s, evidently
# 4-9 s on this project's VM; the server holds them in about 0.6 GB). Modules that read the environment at import time are left out on purpose: each child
# gets its own environment, which those would not see (matplotlib picks its config dir when imported).
PRELOAD = (
    "numpy",
    "pandas",
    "sklearn.base",
    "sklearn.metrics",
    "mlflow",
    "mlflow.tracking",
    "mlflow.pyfunc",
    "dvc.repo",
    "github",
    "sqlalchemy",
    "bot.cli",
    "bot.adapters.mlflow",
    "bot.adapters.dvc",
    "bot.jobs.train",
    "bot.jobs.card",
    "bot.jobs.promote",
    "evidently",  # ~4-9 s: the drift steps
    "bot.adapters.evidently",
    "bot.jobs.drift",
)
START_TIMEOUT_S = 120.0  # the imports under a loaded machine; past it, steps run cold
IDLE_S = 600.0  # a server with nothing to do for this long ends (its memory back); the next step starts one
_READY = "ready"


class WarmRunnerError(Exception):
    """The warm runner could not take a step; the caller runs it cold instead."""


class WarmRunnerBusy(WarmRunnerError):
    """The warm runner is still importing: this step runs cold, the next ones warm."""


@dataclass
class WarmStep:
    """A step running in a child of the warm runner: its pid (and process group) and, later, its exit code."""

    pid: int
    _conn: socket.socket
    _buffer: bytes = b""

    def wait(self, timeout: float | None = None) -> int:
        """The step's exit code (negative: the signal that ended it), as Popen.wait; raises
        subprocess.TimeoutExpired when it is still running after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(f"warm step {self.pid}", timeout or 0.0)
            self._conn.settimeout(remaining)
            try:
                chunk = self._conn.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                self._conn.close()
                raise WarmRunnerError(f"the warm runner went away while step {self.pid} ran")
            self._buffer += chunk
        self._conn.close()
        return int(json.loads(self._buffer.split(b"\n", 1)[0])["code"])


@dataclass
class WarmRunner:
    """The client. The server is started on first use (in `folder`, which it keeps 0700) and imports in the
    background: a step that comes while it is still importing runs cold (WarmRunnerBusy), never waits."""

    folder: Path
    idle_s: float = IDLE_S
    preload: tuple[str, ...] = PRELOAD
    start_timeout_s: float = START_TIMEOUT_S
    _server: subprocess.Popen[str] | None = field(default=None, init=False, repr=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _broken: str | None = field(default=None, init=False, repr=False)

    @property
    def socket_path(self) -> Path:
        return self.folder / "runner.sock"

    def warm_up(self) -> None:
        """Start the server if none runs; returns at once (it imports in the background)."""
        with self._lock:
            if self._broken:
                raise WarmRunnerError(self._broken)
            if self._server is not None and self._server.poll() is None:
                return
            self._server, self._ready = self._spawn(), threading.Event()
            threading.Thread(target=self._await_ready, args=(self._server, self._ready), daemon=True).start()

    def wait_ready(self, timeout: float) -> bool:
        """Start the server if needed and wait until it takes steps; False when it did not in `timeout`."""
        self.warm_up()
        return self._ready.wait(timeout) and self._broken is None

    def start(self, args: list[str], *, cwd: Path, env: dict[str, str], log_path: Path) -> WarmStep:
        """Fork a child that runs `mlops-bot ARGS` in `cwd` with exactly `env`, its output in `log_path`."""
        self.warm_up()
        if not self._ready.is_set():
            raise WarmRunnerBusy("the warm runner is still importing")
        if self._broken:
            raise WarmRunnerError(self._broken)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(30.0)
            conn.connect(str(self.socket_path))
            request = {"args": args, "cwd": str(cwd), "env": env, "log": str(log_path)}
            conn.sendall(json.dumps(request).encode() + b"\n")
            buffer = b""
            while b"\n" not in buffer:
                chunk = conn.recv(4096)
                if not chunk:
                    raise WarmRunnerError("the warm runner closed the connection before starting the step")
                buffer += chunk
        except (OSError, WarmRunnerError) as exc:
            # Refused: most often it ended on its idle timeout just now; the next step starts another.
            conn.close()
            raise WarmRunnerError(f"the warm runner could not start the step: {exc}") from exc
        line, rest = buffer.split(b"\n", 1)
        return WarmStep(pid=int(json.loads(line)["pid"]), _conn=conn, _buffer=rest)

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.stdin.close() if server.stdin else None
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    def _server_args(self) -> list[str]:
        return [str(self.socket_path), str(self.idle_s), ",".join(self.preload)]

    def _spawn(self) -> subprocess.Popen[str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        return subprocess.Popen(
            [sys.executable, "-P", "-m", "bot.adapters.warm_runner", *self._server_args()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_server_environment(),
        )

    def _await_ready(self, server: subprocess.Popen[str], ready: threading.Event) -> None:
        started = time.perf_counter()
        answer = _readline(server, self.start_timeout_s)
        if answer == _READY:
            log.info("warm job runner ready in %.1fs (pid %s)", time.perf_counter() - started, server.pid)
        else:
            server.kill()
            server.wait()
            # not tried again on every step: once is enough to know
            self._broken = f"the warm runner did not start ({answer or 'no answer'}); job steps run cold"
        ready.set()


def _server_environment() -> dict[str, str]:
    """The server's own environment: nothing of the bot's secrets (a child's environment is given per step)."""
    keep = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "HOME", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


def _readline(server: subprocess.Popen[str], timeout: float) -> str:
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(server.stdout.readline() if server.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    return found[0].strip() if found else ""


# -- the server (python -m bot.adapters.warm_runner SOCKET IDLE_SECONDS MODULES) --


def serve(socket_path: str, idle_s: float, preload: list[str]) -> None:
    for name in preload:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # What was imported stays out of the collector's sight: a child's first collection would otherwise touch
    # every object, copying the server's whole heap page by page (measured: 3-4 s a step instead of 0.1 s).
    # https://docs.python.org/3/library/gc.html#gc.freeze
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(64)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    pending: dict[socket.socket, bytes] = {}
    running: dict[int, socket.socket] = {}
    print(_READY, flush=True)
    last_busy = time.monotonic()
    while True:
        if running or pending:
            last_busy = time.monotonic()
        elif time.monotonic() - last_busy > idle_s:
            os.unlink(socket_path)  # first: a client that connects now is refused and starts a new server
            return
        for key, _ in selector.select(timeout=0.05):
            if key.data == "parent":
                if not sys.stdin.readline():  # the executor's process ended: so does its runner
                    _stop(running)
                    return
            elif key.data == "accept":
                with contextlib.suppress(BlockingIOError):
                    conn, _ = listener.accept()
                    conn.setblocking(True)
                    conn.settimeout(5.0)
                    pending[conn] = b""
                    selector.register(conn, selectors.EVENT_READ, "request")
            else:
                conn = key.fileobj  # type: ignore[assignment]
                _read_request(conn, pending, running, selector, listener)
        _reap(running)


def _read_request(
    conn: socket.socket,
    pending: dict[socket.socket, bytes],
    running: dict[int, socket.socket],
    selector: selectors.BaseSelector,
    listener: socket.socket,
) -> None:
    try:
        chunk = conn.recv(1 << 20)
    except OSError:
        chunk = b""
    if not chunk:
        selector.unregister(conn)
        pending.pop(conn, None)
        conn.close()
        return
    pending[conn] += chunk
    if b"\n" not in pending[conn]:
        return
    selector.unregister(conn)
    request = json.loads(pending.pop(conn).split(b"\n", 1)[0])
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns
        _run_step(request, close=[listener, *pending, *running.values(), conn])
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    running[pid] = conn


def _reap(running: dict[int, socket.socket]) -> None:
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = running.pop(pid, None)
        if conn is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"code": code}).encode() + b"\n")
        conn.close()


def _stop(running: dict[int, socket.socket]) -> None:
    for pid in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _run_step(request: dict[str, Any], *, close: list[socket.socket]) -> NoReturn:
    """In the forked child: become the step, run it, and exit with its code."""
    code = 1
    try:
        os.setsid()  # a process group of its own, as a cold step's start_new_session
        for s in close:
            s.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        out = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for fd in (1, 2):
            os.dup2(out, fd)
        os.close(out)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # TMPDIR is the step's own
        from bot.cli import main

        sys.argv = ["mlops-bot", *request["args"]]
        code = main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    _exit(code)


def _exit(code: int) -> NoReturn:
    """Exit as an interpreter does, less its teardown of every module the server imported (0.4 s a step):
    the step's own threads are joined and its atexit handlers run (MLflow's and logging's flushes)."""
    with contextlib.suppress(BaseException):
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    serve(sys.argv[1], float(sys.argv[2]), [m for m in sys.argv[3].split(",") if m])
