"""bot.core is pure: importing it must not load a web framework, a GitHub client or an ML SDK."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import bot.core

FORBIDDEN = (
    "fastapi",
    "starlette",
    "github",
    "mlflow",
    "dvc",
    "bentoml",
    "evidently",
    "sklearn",
    "pandas",
    "httpx",
)


def test_importing_every_core_module_loads_no_sdk() -> None:
    modules = [f"bot.core.{m.name}" for m in pkgutil.iter_modules(bot.core.__path__)]
    assert "bot.core.config" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )
    offenders = sorted({m.split(".")[0] for m in loaded} & set(FORBIDDEN))
    assert offenders == [], f"bot.core imported {offenders}"


def test_cli_help_loads_no_ml_sdk() -> None:
    code = (
        "import json, sys\n"
        "from bot.cli import build_parser\n"
        "build_parser().format_help()\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )
    heavy = sorted(
        {m.split(".")[0] for m in loaded} & {"mlflow", "dvc", "bentoml", "evidently", "sklearn", "pandas"}
    )
    assert heavy == [], f"`mlops-bot --help` imported {heavy}"
