"""`mlops-bot serve`: the webhook endpoint, with a worker thread unless `--no-worker`."""

from __future__ import annotations

import argparse
import os
from typing import Any

from bot.cli import UserError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="receive GitHub webhooks (POST /webhook, GET /healthz, GET /metrics)",
        description="Serve the webhook endpoint. Deliveries are verified with MLOPS_BOT_WEBHOOK_SECRET, "
        "recorded in MLOPS_BOT_DATABASE_URL and handled by a worker thread (or `mlops-bot worker`).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default: %(default)s)")
    p.add_argument(
        "--no-worker",
        action="store_true",
        help="only record deliveries; run `mlops-bot worker` processes to handle them",
    )
    add_worker_options(p)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def add_worker_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `serve` and `worker`."""
    p.add_argument("--database-url", help="where deliveries are stored (default: $MLOPS_BOT_DATABASE_URL)")
    p.add_argument(
        "--handler",
        help="module:function to run for each delivery instead of the bot's handlers "
        "(default: $MLOPS_BOT_HANDLER; used by tests and custom deployments)",
    )
    p.add_argument(
        "--lease-seconds",
        type=float,
        default=300.0,
        help="a delivery whose worker stops renewing it for this long is run again (default: %(default)s)",
    )
    p.add_argument(
        "--poll-interval", type=float, default=1.0, help="seconds between queue polls (default: %(default)s)"
    )


def settings_from(args: argparse.Namespace) -> Any:
    from bot.settings import Settings

    settings = Settings()  # type: ignore[call-arg]  # fields come from the environment; mypy lacks pydantic's plugin
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    return settings


def open_store(url: str) -> Any:
    """The Store at `url`; a UserError saying what to do when its schema is behind or it cannot be reached."""
    from sqlalchemy import exc

    from bot.adapters.store import SchemaMismatch, Store, database_error, safe_url

    try:
        return Store(url)
    except SchemaMismatch as error:
        raise UserError(str(error)) from error
    except exc.SQLAlchemyError as error:
        raise UserError(f"cannot open the database {safe_url(url)}: {database_error(error)}") from error


def handler_from(args: argparse.Namespace, settings: Any) -> Any:
    from bot.worker import load_handler

    try:
        return load_handler(settings, args.handler or os.environ.get("MLOPS_BOT_HANDLER"))
    except Exception as error:  # missing credentials, a bad --handler: say so without a traceback
        hint = " (or run `serve --no-worker` to only record deliveries)" if args.command == "serve" else ""
        raise UserError(f"cannot set up the delivery handlers: {error}{hint}") from error


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app
    from bot.logs import configure

    configure(args.log_level)
    settings = settings_from(args)
    start_worker = settings.inprocess_worker and not args.no_worker
    app = create_app(
        settings,
        store=open_store(settings.database_url),
        handle=handler_from(args, settings) if start_worker else None,
        start_worker=start_worker,
        lease_seconds=args.lease_seconds,
        poll_interval=args.poll_interval,
    )
    from bot.adapters.private_files import ensure_private_dir

    ensure_private_dir(settings.work_dir)  # job logs and clones go under it: 0700 before anything is written
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level, log_config=None, **UVICORN_LIMITS
    )
    return 0


# uvicorn's limits, chosen rather than inherited (issue 18, finding 6). Body size, the bound on large
# bodies read at once and the mid-body idle timeout are the app's (bot/intake.py): uvicorn has none.
UVICORN_LIMITS: dict[str, Any] = {
    # h11, not httptools: only h11 bounds the header block (below); httptools grows it without limit.
    # Webhook traffic is a few requests a second, far below what h11 serves.
    "http": "h11",
    # An idle keep-alive connection is closed after 5 s: GitHub opens a new connection per delivery, so
    # holding idle sockets only helps a client that wants to exhaust file descriptors.
    "timeout_keep_alive": 5,
    # The request line and headers must fit in 16 KiB (h11 buffers an incomplete event up to this size):
    # GitHub's headers are well under 2 KiB; without the bound a client could stream endless headers.
    "h11_max_incomplete_event_size": 16 * 1024,
    # Beyond this many open connections and tasks uvicorn answers 503 at once instead of queueing them
    # in memory. GitHub delivers a few at a time; 200 leaves room for bursts and /metrics scrapes.
    "limit_concurrency": 200,
    # Finishing requests get 10 s on shutdown, within GitHub's 10 s delivery timeout.
    "timeout_graceful_shutdown": 10,
}
