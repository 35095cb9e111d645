"""The demo's run: the stand-in and the bot started, the stages played, the outputs written."""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.demo.dashboard import look
from bot.demo.stages import STAGES, Stages
from bot.demo.traffic import Service, Window
from bot.demo.transcript import render_transcript
from bot.demo.world import APP_ID, MODEL, READER, REPO, BotServer, Progress, free_port

OAUTH_CLIENT_ID = "Iv1.mlops-bot-demo"


@dataclass
class Demo(Stages):
    """One run of the demo, writing its state and outputs under `out`."""

    out: Path
    progress: Progress
    timeout: float = 240.0
    summary: dict[str, Any] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)  # the traffic sent to the served champion
    logged_at_last_check: int = 0

    def run(self, stages: tuple[str, ...] = STAGES) -> dict[str, Any]:
        from bot.adapters.store import Store
        from bot.app import create_app
        from bot.cli.promote import bento_store
        from bot.handlers import build_handler
        from bot.settings import Settings
        from bot.standin import StandIn
        from bot.standin.oauth import register_oauth_client
        from bot.standin.testing import app_key_pair

        state = self.out / "state"
        if state.exists():
            shutil.rmtree(state)
        state.mkdir(parents=True)
        secret = secrets.token_hex(16)
        bot_port = free_port()
        private_pem, public_pem = app_key_pair()

        self.progress("starting the GitHub stand-in")
        standin = StandIn(
            state / "github",
            webhook_url=f"http://127.0.0.1:{bot_port}/webhook",
            webhook_secret=secret,
            strict=True,
        )
        base_url = standin.start()
        self.standin = standin
        try:
            standin.register_app(APP_ID, public_pem)
            oauth_secret = secrets.token_hex(16)
            register_oauth_client(
                standin, OAUTH_CLIENT_ID, oauth_secret, f"http://127.0.0.1:{bot_port}/login/callback"
            )
            settings = Settings(
                webhook_secret=secret,
                database_url=f"sqlite:///{state / 'bot.db'}",
                github_base_url=base_url,
                app_id=APP_ID,
                private_key=private_pem,
                mlflow_tracking_uri=f"sqlite:///{state / 'mlflow.db'}",
                work_dir=state / "work",
                executor="local",
                retry_base_seconds=0.5,
                github_throttle=False,
                public_url=f"http://127.0.0.1:{bot_port}",  # the reports comments link are the bot's pages
                oauth_client_id=OAUTH_CLIENT_ID,
                oauth_client_secret=oauth_secret,
            )
            self.settings = settings
            self.store = Store(settings.database_url)
            # The champion's bento as the demo serves it; it logs its traffic under state/traffic.
            self.service = Service(bento_store(settings.work_dir), state / "traffic")
            app = create_app(
                settings, handle=build_handler(settings, self.store), store=self.store, start_worker=True
            )
            self.progress("starting the bot (GitHub App, durable queue, local executor)")
            bot = BotServer(app, bot_port)
            bot_url = bot.start()
            self.summary.update({"github_stand_in": base_url, "bot": bot_url, "repository": REPO})
            try:
                self._seed_repository(standin)
                for stage in stages:
                    getattr(self, f"_stage_{stage}")(standin)
                self._drain()
                self.summary["dashboard"] = look(standin, REPO, bot_url, READER, MODEL)
                self.progress(
                    f"dashboard: {bot_url}/ ({READER} signed in; "
                    f"{len(self.summary['dashboard']['links'])} links the bot posted opened)"
                )
            finally:
                self.service.stop()
                self._drain()
                self.summary["deliveries"] = self._deliveries()
                self._write_outputs(standin)
                bot.stop()
        finally:
            standin.stop()
        return self.summary

    # --- what the reader gets ----------------------------------------------------------------------

    def _write_outputs(self, standin: Any) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=2, default=str) + "\n")
        (self.out / "transcript.md").write_text(render_transcript(standin, REPO, self.summary))


def run_demo(out: Path, progress: Progress, stages: tuple[str, ...] | None = None) -> dict[str, Any]:
    demo = Demo(out=out.resolve(), progress=progress)
    return demo.run(stages or STAGES)
