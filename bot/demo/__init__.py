"""`mlops-bot demo`: the whole loop on one machine, against the GitHub stand-in, over real HTTP.

A sample repository (a DVC pipeline training scikit-learn's breast-cancer model) lives on a local GitHub
stand-in; the bot runs as a GitHub App under uvicorn with its durable queue and local executor; MLflow uses a
SQLite store. The demo plays the humans: it opens a pull request, comments, pushes, merges, serves the
champion's bento and sends it traffic and labels as its clients would, and lets the scheduled check run.
Everything the bot does is real: webhooks, training, cards, promotion, BentoML, Deployments, the checks of
what the service logged, the monitoring issue and the retrain pull request.

`world` declares the repository, people and traffic; `stages` and `production` play the story; `traffic`
serves the champion and is its clients; `probes` reads GitHub, MLflow and the queue back; `transcript` writes
what a reader gets; `runner` puts them together.
"""

from __future__ import annotations

from bot.demo.runner import Demo, run_demo
from bot.demo.world import MAINTAINER, MODEL, REPO, BotServer, DemoError

__all__ = ["MAINTAINER", "MODEL", "REPO", "BotServer", "Demo", "DemoError", "run_demo"]
