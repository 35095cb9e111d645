"""What DVC tells the bot about a repository, as values: they are pure, and live in bot/core/dvc.py, where the
DVC port (bot/ports.py) finds them. Re-exported here for the adapter's own modules."""

from __future__ import annotations

from bot.core.dvc import LOCK_FILE, PARAMS_FILE, Remote, ReproResult, StageFiles

__all__ = ["LOCK_FILE", "PARAMS_FILE", "Remote", "ReproResult", "StageFiles"]
