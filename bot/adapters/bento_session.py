"""One BentoML interpreter for a whole bento: import the model, build the service, export the archive.

`bentoml build` and `bentoml export` each start an interpreter of their own and import BentoML again, and the
model import needs MLflow too (~2 s of imports before any work, three times per bento). A session is one child
process that pays those imports once and then takes the steps as requests, so its start-up can also overlap
whatever its caller does meanwhile (the promote job's gates and registry calls; issue 12).

It keeps what the separate commands gave: its own environment (BENTOML_HOME, MLFLOW_TRACKING_URI, a job's
credentials and nothing of the bot's), so a build never depends on or changes the calling process's BentoML
or MLflow state; a step that fails raises `BentoBuildError` naming the step and ending with the tool's own
error; a step that hangs is killed after its timeout. Requests go to the child's stdin and answers come
back on a pipe of their own, one JSON object per line; the child's own output goes to a log file that
error messages quote.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b")


class BentoBuildError(Exception):
    """A BentoML step failed; the message names the step and ends with the tool's own error."""


class BentoSession:
    """A BentoML child process, started at once; `call` sends it a step and waits for its answer.

    In a process that has MLflow imported already and runs no other thread (a job step forked from the warm
    runner, bot/adapters/warm_runner.py), the child is a fork of it: it starts with MLflow in memory instead of
    importing it again (~1.5 s), then takes the session's environment whole. Elsewhere it is a new interpreter."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self._log: IO[str] = tempfile.TemporaryFile(mode="w+", prefix="mlops-bot-bento-")  # noqa: SIM115  closed in close()
        requests_r, requests_w = os.pipe()
        answers_r, answers_w = os.pipe()
        try:
            if forking_is_safe():
                self._proc: _Child | subprocess.Popen[bytes] = _fork(
                    self.env, (requests_r, answers_w), (requests_w, answers_r), self._log
                )
            else:
                self._proc = subprocess.Popen(
                    [sys.executable, "-P", "-m", "bot.adapters.bento_session", str(answers_w)],
                    env=self.env,
                    stdin=requests_r,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(answers_w,),
                    start_new_session=True,
                )
        except BaseException:
            for fd in (requests_w, answers_r):
                os.close(fd)
            self._log.close()
            raise
        finally:
            for fd in (requests_r, answers_w):
                os.close(fd)
        self._requests = os.fdopen(requests_w, "w", encoding="utf-8")
        self._answers = os.fdopen(answers_r, "r", encoding="utf-8")
        self._ready = False

    def call(self, op: str, *, step: str, timeout: float = 900, **fields: Any) -> dict[str, Any]:
        """Run one step (`import`, `build`, `export`) in the child; its answer, or BentoBuildError."""
        deadline = time.monotonic() + timeout
        if not self._ready:
            self._read(step, deadline)  # the child's imports: it says it is ready once
            self._ready = True
        try:
            self._requests.write(json.dumps({"op": op, **fields}) + "\n")
            self._requests.flush()
        except BrokenPipeError:
            raise self._died(step) from None
        answer = self._read(step, deadline)
        if "error" in answer:
            raise BentoBuildError(f"{step} failed: {tail(answer['error'])}")
        return answer

    def _read(self, step: str, deadline: float) -> dict[str, Any]:
        with selectors.DefaultSelector() as selector:
            selector.register(self._answers, selectors.EVENT_READ)
            if not selector.select(max(0.0, deadline - time.monotonic())):
                self.close()
                raise BentoBuildError(
                    f"{step} did not finish within its time limit; the BentoML process was stopped"
                )
        line = self._answers.readline()
        if not line:
            raise self._died(step)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _died(self, step: str) -> BentoBuildError:
        code = self._proc.wait(timeout=30)
        self._log.seek(0)
        return BentoBuildError(
            f"{step} failed (the BentoML process exited with {code}): {tail(self._log.read())}"
        )

    def close(self) -> None:
        """Stop the child (at once if it is still busy) and drop its log."""
        if self._proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._requests.close()  # EOF: it ends on its own once idle
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, 9)
                self._proc.wait(timeout=5)
        with contextlib.suppress(BrokenPipeError, OSError):
            self._requests.close()
        self._answers.close()
        self._log.close()

    def __enter__(self) -> BentoSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tail(text: str, lines: int = 8) -> str:
    """The last lines of a tool's output or traceback that say something, warnings left out. A library's
    `finally` can mask the error that matters (bentoml's import_model raises UnboundLocalError when MLflow's
    download failed): the first exception of the chain is named too."""
    kept = [ln for ln in text.strip().splitlines() if ln.strip() and "UserWarning" not in ln]
    last = "\n".join(kept[-lines:]) or "(no output)"
    raised = [ln for ln in kept if _EXCEPTION_LINE.match(ln)]
    if len(raised) > 1 and raised[0] not in last:
        last += f"\n(first raised: {raised[0]})"
    return last


# ---- the child -------------------------------------------------------------------------------------------


def _import(request: dict[str, Any]) -> dict[str, Any]:
    """Reuse the stored model already imported with the same labels (a re-run of a promotion), otherwise
    import it; its tag, input names and requirements."""
    import bentoml
    import bentoml.mlflow
    import mlflow

    from bot.adapters.bentoml import input_names

    labels: dict[str, str] = request["labels"]
    stored = None
    with contextlib.suppress(bentoml.exceptions.NotFound):
        stored = next((m for m in bentoml.models.list(request["name"]) if m.info.labels == labels), None)
    if stored is None:
        stored = bentoml.mlflow.import_model(
            request["name"],
            model_uri=request["model_uri"],
            labels=labels,
            metadata={"model_uri": request["model_uri"]},
        )
    model_dir = Path(stored.path) / "mlflow_model"
    features = input_names(mlflow.models.Model.load(str(model_dir)), model_dir)
    requirements_file = model_dir / "requirements.txt"
    requirements = requirements_file.read_text().splitlines() if requirements_file.exists() else []
    return {"tag": str(stored.tag), "features": features, "requirements": requirements}


def _build(request: dict[str, Any]) -> dict[str, Any]:
    """`bentoml build --version V CTX`, as the command does it (in the build context)."""
    from bentoml.bentos import build_bentofile

    ctx, before = os.path.realpath(request["ctx"]), os.getcwd()
    os.chdir(ctx)
    try:
        bento = build_bentofile(build_ctx=ctx, version=request["version"])
    finally:
        os.chdir(before)
        # BentoML imports the service to build it; the next build here renders a service.py of its own, which
        # a module left in sys.modules under the same name would hide.
        for name, module in list(sys.modules.items()):
            if os.path.realpath(getattr(module, "__file__", None) or "/").startswith(ctx + os.sep):
                del sys.modules[name]
    return {"tag": str(bento.tag)}


def _export(request: dict[str, Any]) -> dict[str, Any]:
    from bentoml.bentos import export_bento

    return {"path": export_bento(request["tag"], request["path"])}


_STEPS = {"import": _import, "build": _build, "export": _export}


def forking_is_safe() -> bool:
    """A fork copies only the calling thread, so another thread's lock could be held forever in the child; and
    a process that has used BentoML already holds its store's settings, which the child must not inherit."""
    return (
        hasattr(os, "fork")
        and "mlflow" in sys.modules
        and "bentoml" not in sys.modules
        and threading.active_count() == 1
    )


@dataclass
class _Child:
    """A forked session child, with the part of Popen's interface the session uses."""

    pid: int
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"bento session {self.pid}", timeout)
            time.sleep(0.01)
        return code


def _fork(env: Mapping[str, str], ends: tuple[int, int], parents: tuple[int, int], log: IO[str]) -> _Child:
    """Fork the session's child: it reads requests on `ends[0]` and answers on `ends[1]`; `parents` are the
    caller's ends of the two pipes, closed in the child so that the caller's close is the child's EOF."""
    requests_r, answers_w = ends
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return _Child(pid)
    code = 1
    try:  # the child: its own session, the session's environment whole, its output in the log
        for fd in parents:
            os.close(fd)
        os.setsid()
        os.dup2(requests_r, 0)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        os.environ.clear()
        os.environ.update(env)
        import mlflow

        if env.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        code = serve(answers_w, open(0, encoding="utf-8", closefd=False))  # noqa: SIM115  fd 0 is the child's
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)  # never the parent's atexit handlers, buffers or connections


def serve(answers_fd: int, requests: IO[str]) -> int:
    """The child's loop: say it is ready once its imports are done, then answer each request line."""
    answers = os.fdopen(answers_fd, "w", encoding="utf-8", buffering=1)
    import bentoml.mlflow  # noqa: F401  what every bento needs: BentoML and MLflow, imported once
    from bentoml.bentos import build_bentofile, export_bento  # noqa: F401

    answers.write(json.dumps({"ready": True}) + "\n")
    for line in requests:
        request = json.loads(line)
        try:
            answer = _STEPS[request.pop("op")](request)
        except Exception:
            answer = {"error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(serve(int(sys.argv[1]), sys.stdin))
