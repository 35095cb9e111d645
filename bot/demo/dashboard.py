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
        body = f"{output.get('summary') or ''}\n{output.get('text') or ''}\n{run.details_url or ''}"
        texts.append((f"check run {run.name}", body))
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


def _kind(answer: httpx.Response) -> str:
    """What a report page is, as its answer says: a model card (a sandbox without scripts), an Evidently
    report (a sandbox with them), or a log (plain text)."""
    policy = answer.headers.get("content-security-policy", "")
    if answer.headers.get("content-type", "").startswith("text/plain"):
        return "log"
    return "drift-report" if "allow-scripts" in policy else "card"


def _place(where: str) -> str:
    for kind in ("check run", "deployment", "comment"):
        if kind in where:
            return kind
    return "body"


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
    answers = {link: reader_client.get(link) for link in bot_links(texts, bot_url)}
    links = {link: answer.status_code for link, answer in answers.items()}
    # Where each report link was posted: a card's Check Run (the kept card), a comment (the training log, a
    # reply's job log, the drift report), a Deployment (the promotion's log).
    places = {
        link: sorted({_place(where) for where, text in texts if link in text})
        for link in links
        if "/reports/" in link
    }
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
        "report_places": places,
        "report_kinds": {link: _kind(answers[link]) for link in places},
        "local_paths": local_paths(texts),
        "texts": len(texts),
    }
