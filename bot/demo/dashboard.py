"""The demo's last look: everything the bot posted on GitHub, read back as a reader would. Every link to the
bot's own pages is opened by a reader signed in through the dashboard's sign-in (GitHub's OAuth web flow on
the stand-in), and no text may name a path on the machine that ran the jobs."""

from __future__ import annotations

import re
from typing import Any

import httpx

# Absolute paths of the places a job writes (temporary folders, home, /srv, /opt, /var, /work).
_HOST_PATH = re.compile(r"(?<![\w.~])/(?:tmp|home|root|srv|opt|var|work|Users)/[^\s'\"`)<>\]]+")


def posted_texts(standin: Any, repo: str) -> list[tuple[str, str]]:
    """(where, text) of every body the bot and its people left: issues, PRs, comments, check runs,
    Deployment statuses."""
    texts: list[tuple[str, str]] = []
    for issue in sorted(standin.repo(repo).issues.values(), key=lambda i: i.number):
        texts.append((f"#{issue.number} body", issue.body or ""))
        texts += [(f"#{issue.number} comment {c.id}", c.body) for c in standin.comments(repo, issue.number)]
    for run in standin.check_runs(repo):
        output = run.output or {}
        texts.append((f"check run {run.name}", f"{output.get('summary') or ''}\n{output.get('text') or ''}"))
    for deployment in standin.deployments(repo):
        for status in deployment.statuses:
            texts.append(
                (
                    f"deployment {deployment.id}",
                    f"{status.description} {status.log_url} {status.environment_url}",
                )
            )
    return texts


def local_paths(texts: list[tuple[str, str]]) -> list[str]:
    return [f"{where}: {found}" for where, text in texts for found in _HOST_PATH.findall(text)]


def bot_links(texts: list[tuple[str, str]], bot_url: str) -> list[str]:
    pattern = re.compile(re.escape(bot_url) + r"/[^\s'\"`)<>\]]*")
    return sorted({link.rstrip(".,") for _, text in texts for link in pattern.findall(text)})


def sign_in(bot_url: str, github_web: str, login: str) -> httpx.Client:
    """A client signed in to the dashboard as `login`: /login, the stand-in's authorize page, the callback."""
    client = httpx.Client(base_url=bot_url, timeout=30)
    authorize = httpx.URL(client.get("/login").headers["location"])
    granted = httpx.post(
        f"{github_web}/login/oauth/authorize", data={**dict(authorize.params), "login": login}
    )
    client.get(httpx.URL(granted.headers["location"]).raw_path.decode())
    return client


def look(standin: Any, repo: str, bot_url: str, reader: str, model: str) -> dict[str, Any]:
    texts = posted_texts(standin, repo)
    reader_client = sign_in(bot_url, standin.html_url, reader)
    links = {link: reader_client.get(link).status_code for link in bot_links(texts, bot_url)}
    home = reader_client.get("/")
    page = reader_client.get(f"/repos/{repo}/models/{model}")
    return {
        "url": f"{bot_url}/",
        "signed_in_as": reader,
        "home_status": home.status_code,
        "model_page": f"{bot_url}/repos/{repo}/models/{model}",
        "model_status": page.status_code,
        "model_page_champion": "Champion: <strong>version " in page.text,
        "links": links,
        "local_paths": local_paths(texts),
        "texts": len(texts),
    }
