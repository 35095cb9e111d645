"""`mlops-bot deliveries`: what the bot received and what became of it."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bot.cli import UserError
from bot.cli.output import add_json_option, write_text

# The store's STATUSES, spelled out so `--help` need not import SQLAlchemy (a test keeps them equal).
STATUSES = ("queued", "running", "done", "failed")


def register(sub: Any) -> None:
    p = sub.add_parser("deliveries", help="list received deliveries and their status")
    add_json_option(p, "the deliveries (a list) instead of a table")
    p.add_argument("--status", choices=STATUSES, help="only deliveries with this status")
    p.add_argument("--limit", type=int, default=50, help="newest N deliveries (default: %(default)s)")
    p.add_argument("--requeue", metavar="ID", help="queue a failed (or done) delivery again, then list")
    p.add_argument("--database-url", help="where deliveries are stored (default: $MLOPS_BOT_DATABASE_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli.serve import open_store, settings_from

    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    store = open_store(settings_from(args).database_url)
    try:
        if args.requeue and not store.requeue(args.requeue):
            raise UserError(f"no failed or done delivery {args.requeue!r} to requeue")
        rows = store.list(limit=args.limit, status=args.status)
    finally:
        store.close()
    if args.json is not None:
        write_text(args.json, json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        print(render_table([row.to_dict() for row in rows]))
    return 0


# `note` tells "handled" from "ignored" (a permanent GitHub answer, an event with no handler).
_COLUMNS = ("id", "event", "action", "status", "attempts", "received", "note", "last_error")


def render_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no deliveries"
    cells = [[_cell(row, column) for column in _COLUMNS] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(_COLUMNS)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines)


def _cell(row: dict[str, Any], column: str) -> str:
    if column == "received":
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["received_at"]))
    value = row.get(column)
    if value is None:
        return "-"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
