"""Outside failures as one line: what failed and what to do, never a traceback (`--debug` shows it).

Exceptions are recognised by their class's module and name, so this module imports no SDK: a failure of
MLflow, GitHub (PyGithub/requests), DVC or the database reaches the user as the sentence below.
"""

from __future__ import annotations

import os
import re

# The bot's own errors already say what to do: printed as they are.
_OWN = {
    "GitHubError", "JobSetupError", "TrainSetupError", "ConfigError", "DvcError", "ForeignModelError",
    "ModelLogError", "DriftError", "SandboxError", "ProjectEnvError", "BentoBuildError", "JobError", "DemoError",
}  # fmt: skip


def _names(exc: BaseException) -> list[str]:
    return [f"{cls.__module__}.{cls.__name__}" for cls in type(exc).__mro__]


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    line = re.sub(r"(?i)(token|password|secret)=[^&\s]+", r"\1=***", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe(exc: BaseException) -> str | None:
    """One line for an outside failure; None for anything else (a bug: the traceback is worth seeing)."""
    names = _names(exc)
    if type(exc).__name__ in _OWN and names[0].startswith("bot."):
        return _first_line(exc, 2000)
    if any(n.startswith("mlflow.") for n in names):
        uri = os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLOPS_BOT_MLFLOW_TRACKING_URI") or ""
        where = f" at {uri}" if uri else ""
        return (
            f"MLflow{where} failed: {_first_line(exc)}. Check that the tracking server answers and "
            "MLFLOW_TRACKING_URI names it."
        )
    if any(n.startswith("github.") for n in names):
        status = getattr(exc, "status", None)
        message = getattr(exc, "data", None)
        text = message.get("message") if isinstance(message, dict) else _first_line(exc)
        hint = {
            401: "the token is invalid or expired",
            403: "the token lacks a permission, or a rate limit was hit",
            404: "the repository does not exist or the App cannot see it",
        }.get(status if isinstance(status, int) else 0, "see GitHub's status page")
        return f"GitHub answered {status}: {text} ({hint})."
    if any(n in ("requests.exceptions.ConnectionError", "urllib3.exceptions.MaxRetryError") for n in names):
        return f"could not connect: {_first_line(exc)}. Check the URL and that the service is up."
    if any(n.startswith("requests.exceptions.") for n in names):
        return f"HTTP request failed: {_first_line(exc)}."
    if any(n == "sqlalchemy.exc.NoSuchModuleError" for n in names):
        return (
            f"the database URL names a driver that is not installed: {_first_line(exc)}. Use "
            "postgresql+psycopg://… (installed with mlops-bot) or sqlite:///…, or install the driver."
        )
    if any(n.startswith("sqlalchemy.exc.") for n in names):
        return f"the database failed: {_first_line(exc)}. Check MLOPS_BOT_DATABASE_URL and that it answers."
    if any(n.startswith("dvc.") for n in names):
        return f"DVC failed: {_first_line(exc)}."
    if isinstance(exc, ModuleNotFoundError):
        return (
            f"a package is not installed: {exc.name}. Install it beside mlops-bot; for a database URL use "
            "postgresql://… (psycopg comes with mlops-bot) or sqlite:///…"
        )
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"could not connect: {_first_line(exc)}."
    return None


def bound_mlflow_http() -> None:
    """MLflow retries an unreachable server for minutes by default (7 retries with backoff, 120 s timeouts):
    a CLI run gives up in about 30 s instead, unless the user set these."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
