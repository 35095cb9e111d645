"""The warm job runner (issue 12): steps forked from a pre-imported server behave as cold steps do — their own
environment and nothing else, their own process group under the job's timeout, the checkout off sys.path —
and the executor runs them cold when there is no runner to be had."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.executor import JobError, LocalExecutor, Step
from bot.adapters.store import Store
from bot.adapters.warm_runner import WarmRunner

pytestmark = pytest.mark.slow

# The part of the preload the steps below use (the whole list costs 5-10 s on a loaded 2-core VM).
PRELOAD = ("sqlalchemy", "bot.cli", "bot.adapters.store")


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmRunner]:
    warm = WarmRunner(tmp_path_factory.mktemp("warm"), idle_s=120, preload=PRELOAD)
    assert warm.wait_ready(120)
    yield warm
    warm.close()


def _origin(tmp_path: Path, files: dict[str, str] | None = None) -> str:
    origin = tmp_path / "origin"
    origin.mkdir()
    for name, text in (files or {}).items():
        (origin / name).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=origin, check=True)
    subprocess.run(["git", "add", "-A"], cwd=origin, check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "first"], cwd=origin, check=True)
    return f"file://{origin}"


def _executor(tmp_path: Path, runner: WarmRunner | None, **kw: object) -> LocalExecutor:
    return LocalExecutor(tmp_path / "work", "http://127.0.0.1:9", "sqlite:///x.db", isolation="none",
                         keep_workdirs=True, warm=runner, **kw)  # type: ignore[arg-type]  # fmt: skip


def _log(tmp_path: Path, job: str, step: str) -> str:
    [folder] = [p for p in (tmp_path / "work" / "jobs").iterdir() if p.name.startswith(job)]
    return (folder / step).read_text()


def _json_in(log: str) -> object:
    """The JSON a step printed, among the log lines it wrote to the same file."""
    start = 0 if log.startswith("[") else log.index("\n[") + 1
    return json.JSONDecoder().raw_decode(log, start)[0]


def test_a_warm_step_has_its_own_environment_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    Store(db).enqueue("d-only-in-b", "ping", None, {})
    # The server starts while the bot's own environment names database b ...
    warm = WarmRunner(tmp_path / "warm", preload=PRELOAD)
    monkeypatch.setenv("MLOPS_BOT_DATABASE_URL", db)
    assert warm.wait_ready(120)
    monkeypatch.delenv("MLOPS_BOT_DATABASE_URL")
    try:
        executor = _executor(tmp_path, warm)
        origin = _origin(tmp_path)
        steps = [Step(("deliveries", "--json"))]
        assert executor.run("job-b", clone_url=origin, token="", repo="acme/x", checkout="main", branch=None,
                            steps=steps, env={"MLOPS_BOT_DATABASE_URL": db}) == [0]  # fmt: skip
        assert executor.run("job-c", clone_url=origin, token="", repo="acme/x", checkout="main", branch=None,
                            steps=steps) == [0]  # fmt: skip
    finally:
        warm.close()
    seen_b = [d["id"] for d in _json_in(_log(tmp_path, "job-b", "step0-deliveries.log"))]  # type: ignore[attr-defined]
    seen_c = _json_in(_log(tmp_path, "job-c", "step0-deliveries.log"))
    assert seen_b == ["job:d-only-in-b"]
    # ... and job-c's step, given no database, read its own default one: neither the server's environment nor
    # job-b's reached it.
    assert seen_c == []


def test_a_module_in_the_checkout_never_runs_in_a_warm_step(tmp_path: Path, runner: WarmRunner) -> None:
    marker = tmp_path / "pwned"
    origin = _origin(tmp_path, {"argparse.py": f"open({str(marker)!r}, 'w').write('ran')\n"})
    codes = _executor(tmp_path, runner).run("job-d", clone_url=origin, token="t0ken", repo="acme/x",
                                            checkout="main", branch=None, steps=[Step(("--version",))])  # fmt: skip
    assert codes == [0]
    assert "mlops-bot " in _log(tmp_path, "job-d", "step0---version.log")
    assert not marker.exists()


def test_a_warm_step_past_the_job_timeout_is_stopped_with_all_it_started(
    tmp_path: Path, runner: WarmRunner
) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    executor = _executor(tmp_path, runner, timeout_s=3)
    started = time.monotonic()
    with pytest.raises(JobError, match="ran past the job's 3 s timeout"):
        executor.run("job-e", clone_url=_origin(tmp_path), token="", repo="acme/x", checkout="main", branch=None,
                     steps=[Step(("worker", "--database-url", db))],
                     env={"MLOPS_BOT_GITHUB_TOKEN": "x"})  # fmt: skip  # a worker never ends by itself
    assert time.monotonic() - started < 20
    # the server reaped the killed step and still takes the next one
    assert runner.start(["--version"], cwd=tmp_path, env={"PATH": os.environ["PATH"]},
                        log_path=tmp_path / "next.log").wait(30) == 0  # fmt: skip


def test_the_server_forks_from_a_single_thread(runner: WarmRunner, tmp_path: Path) -> None:
    runner.start(["--version"], cwd=tmp_path, env={}, log_path=tmp_path / "v.log").wait(30)
    server = runner._server
    assert server is not None and server.poll() is None
    threads = next(line for line in Path(f"/proc/{server.pid}/status").read_text().splitlines()
                   if line.startswith("Threads:"))  # fmt: skip
    assert threads.split() == ["Threads:", "1"]  # forking a threaded process can copy a held lock


def test_without_a_runner_to_be_had_the_steps_run_cold(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    never_ready = WarmRunner(tmp_path / "warm", preload=("bot.cli",), start_timeout_s=0.001)
    assert not never_ready.wait_ready(60)
    executor = _executor(tmp_path, never_ready)
    origin = _origin(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bot.adapters.executor"):
        for job in ("job-f", "job-g"):
            assert executor.run(job, clone_url=origin, token="", repo="acme/x", checkout="main", branch=None,
                                steps=[Step(("--version",))]) == [0]  # fmt: skip
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all(
        "the warm runner did not start" in w and "runs cold" in w for w in warnings
    )
    assert "mlops-bot " in _log(tmp_path, "job-g", "step0---version.log")


def test_an_idle_server_ends_and_the_next_step_starts_another(tmp_path: Path) -> None:
    warm = WarmRunner(tmp_path / "warm", idle_s=0.5, preload=("bot.cli",))
    try:
        assert warm.wait_ready(60)
        assert warm.start(["--version"], cwd=tmp_path, env={}, log_path=tmp_path / "a.log").wait(60) == 0
        first = warm._server
        assert first is not None
        first.wait(timeout=30)  # it ends by itself once idle
        assert warm.wait_ready(60)
        assert warm.start(["--version"], cwd=tmp_path, env={}, log_path=tmp_path / "b.log").wait(60) == 0
        assert warm._server is not None and warm._server.pid != first.pid
    finally:
        warm.close()


def test_a_step_that_comes_while_the_runner_imports_runs_cold_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    importing = WarmRunner(tmp_path / "warm", preload=("evidently", "mlflow"))  # seconds of imports
    try:
        with caplog.at_level(logging.INFO, logger="bot.adapters.executor"):
            codes = _executor(tmp_path, importing).run("job-h", clone_url=_origin(tmp_path), token="",
                                                       repo="acme/x", checkout="main", branch=None,
                                                       steps=[Step(("--version",))])  # fmt: skip
        assert codes == [0]
        assert any(
            "still importing" in r.getMessage() and "runs cold" in r.getMessage() for r in caplog.records
        )
        assert importing.wait_ready(120)  # and the next steps are warm
    finally:
        importing.close()


def test_the_runner_is_warm_before_the_first_job_and_again_after_an_idle_spell(tmp_path: Path) -> None:
    """The worker warms the runner up when it starts and whenever a delivery comes (issue 12: the first card of
    a pull request no longer pays a cold step's imports)."""
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from bot.core.events import Delivery
    from bot.handlers import Dispatcher
    from bot.handlers.context import Context
    from bot.settings import Settings

    runner = WarmRunner(tmp_path / "warm", idle_s=0.5, preload=("bot.cli",))
    settings = Settings(webhook_secret="x", database_url=f"sqlite:///{tmp_path / 'bot.db'}")  # type: ignore[call-arg]
    handle = Dispatcher(Context(settings=settings, github=None, enqueue=lambda *a, **k: None,  # type: ignore[arg-type]
                                executor=_executor(tmp_path, runner)))  # fmt: skip
    try:
        with TestClient(create_app(settings, handle=handle, start_worker=True)):
            assert runner._server is not None, "the worker's start did not start the runner"
            assert runner.wait_ready(60)
            first = runner._server
            first.wait(timeout=30)  # idle: it ends by itself
            handle(Delivery(id="d-1", event="ping", action=None, payload={}))  # any delivery warms it again
            assert runner._server is not None and runner._server.pid != first.pid
            assert runner._server.poll() is None
    finally:
        runner.close()
