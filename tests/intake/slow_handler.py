"""A handler for crash tests, loaded by `mlops-bot serve` with MLOPS_BOT_HANDLER=slow_handler:handle.

It appends `start <delivery id>` to $SLOW_HANDLER_LOG, sleeps $SLOW_HANDLER_SECONDS, then appends
`done <delivery id>`: the file shows every attempt and every completed effect.
"""

from __future__ import annotations

import os
import time

from bot.core.events import Delivery


def _append(line: str) -> None:
    with open(os.environ["SLOW_HANDLER_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())


def handle(delivery: Delivery) -> None:
    _append(f"start {delivery.id}")
    time.sleep(float(os.environ.get("SLOW_HANDLER_SECONDS", "0")))
    _append(f"done {delivery.id}")
