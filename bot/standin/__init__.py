"""A stateful GitHub stand-in on 127.0.0.1 driven by the real PyGithub client (tests, `mlops-bot demo`)."""

from __future__ import annotations

from bot.standin.faults import WRITE_METHODS, Faults
from bot.standin.server import RequestLog, StandIn, StandInError

__all__ = ["WRITE_METHODS", "Faults", "RequestLog", "StandIn", "StandInError"]
