"""Deliveries and the facts handlers read from them. Pure: payload dicts in, values out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One unit of queued work: a GitHub webhook delivery, or a job the bot queued for itself.

    `id` is GitHub's `X-GitHub-Delivery` for webhooks and a deterministic key (`job:...`) for the
    bot's own jobs, so both are deduplicated the same way.
    """

    id: str
    event: str
    action: str | None
    payload: dict[str, Any]
    attempts: int = 0
    received_at: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """`event.action`, the key handlers subscribe to (Probot style)."""
        return f"{self.event}.{self.action}" if self.action else self.event

    @property
    def repo(self) -> str:
        return str(self.payload.get("repository", {}).get("full_name", ""))

    @property
    def installation_id(self) -> int | None:
        inst = self.payload.get("installation") or {}
        value = inst.get("id")
        return int(value) if value is not None else None

    @property
    def sender(self) -> str:
        return str((self.payload.get("sender") or {}).get("login", ""))

    @property
    def sender_is_bot(self) -> bool:
        sender = self.payload.get("sender") or {}
        return sender.get("type") == "Bot" or str(sender.get("login", "")).endswith("[bot]")


class PermanentError(Exception):
    """A job that cannot succeed by retrying (bad payload, missing config): recorded as failed at once."""
