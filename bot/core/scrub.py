"""What a log may show in public: bot text quotes log tails on PRs and issues, which anyone who can read the
repository sees. Credentials in URLs, tokens and the bot host's own paths are masked first."""

from __future__ import annotations

import re
from collections.abc import Iterable

# scheme://user:password@host -> scheme://***@host (DVC remotes, MLflow URIs, git remotes)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@")
# GitHub tokens (classic, fine-grained, installation, OAuth, refresh) and bearer/basic headers
_TOKENS = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*(?:bearer|basic|token)\s+)\S+")
# Absolute paths under the places the bot keeps its work (temporary folders, home, /srv, /opt, /var, /work)
_HOST_PATH = re.compile(r"(?<![\w.])/(?:tmp|home|root|srv|opt|var|work|Users)(?:/[^\s'\":,)\]]+)+")


def scrub(text: str, *, roots: Iterable[str] = ()) -> str:
    """`text` with credentials masked and host paths shortened: a path inside one of `roots` (the checkout)
    becomes relative to it; any other absolute path of the bot host becomes `…/<last part>`."""
    for root in sorted({r.rstrip("/") for r in roots if r}, key=len, reverse=True):
        text = text.replace(root + "/", "").replace(root, ".")
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}***@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m[1]}***", text)
    text = _TOKENS.sub("***", text)
    return _HOST_PATH.sub(lambda m: "…/" + m[0].rstrip("/").rsplit("/", 1)[-1], text)
