"""One log format for the bot, uvicorn and job steps: text by default, JSON lines with
`MLOPS_BOT_LOG_FORMAT=json`; every line written while a delivery is handled carries its id, repository and
pull request (from the worker's context, or, in a job step, from the environment the executor sets)."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

# In a job step the executor names the delivery through these (no secret in them).
ENV_CONTEXT = {"delivery": "MLOPS_BOT_LOG_DELIVERY", "repo": "MLOPS_BOT_LOG_REPO", "pr": "MLOPS_BOT_LOG_PR"}
# The file a job step's output goes to (set by the local executor): the step keeps it as its job log.
STEP_LOG_ENV = "MLOPS_BOT_STEP_LOG"

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "mlops_bot_log", default=MappingProxyType({})
)
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


@contextlib.contextmanager
def delivery_context(**fields: object) -> Iterator[None]:
    """Lines logged inside carry `fields` (delivery id, repository, PR) in both formats."""
    token = _context.set({k: str(v) for k, v in fields.items() if v not in (None, "")})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    def __init__(self, base: Mapping[str, str]) -> None:
        super().__init__()
        self.base = dict(base)

    def filter(self, record: logging.LogRecord) -> bool:
        fields = {**self.base, **_context.get()}
        record.mlops_bot = fields
        record.context = (" [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]") if fields else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "mlops_bot", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "info", log_format: str | None = None) -> None:
    """Set up the root logger (uvicorn's loggers propagate to it: pass `log_config=None` to uvicorn)."""
    log_format = (log_format or os.environ.get("MLOPS_BOT_LOG_FORMAT") or "text").lower()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT))
    handler.addFilter(_ContextFilter({k: os.environ[v] for k, v in ENV_CONTEXT.items() if os.environ.get(v)}))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        logger.disabled = False  # a dictConfig elsewhere (uvicorn's own) may have switched it off
        logger.setLevel(logging.NOTSET)  # the root's level; `uvicorn.run(log_level=...)` sets its own
