"""The package list only; everything else is in pyproject.toml.

templates/ (card, workflows, sample project, bento service) lives at the top of the repository where a
reader looks for it, and ships inside the package as `bot.templates` so an installed mlops-bot can
render cards and run `init` without a checkout.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["bot", "bot.*"]), "bot.templates"],
    package_dir={"bot.templates": "templates"},
)
