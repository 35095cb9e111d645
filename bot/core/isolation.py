"""Who gets which credentials: the environment of a job's own steps, of the repository's stage commands, and
the permissions of the GitHub token each job kind is given.

The stage commands of `dvc.yaml` are the repository's code, written by whoever opened the pull request.
They get an allow-listed environment and never the bot's secrets, key, database URL or GitHub token; the
bot's own steps (train, card, promote ...) get a token minted for the one repository they serve, with only
the permissions their job needs. See docs/security.md for the threat model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Variables every process may see: where programs are, the locale, the terminal, the time zone.
_BASE_NAMES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "SOURCE_DATE_EPOCH", "PYTHONHASHSEED"})
_BASE_PREFIXES = ("LC_",)

# The bot's own steps also need their interpreter, git identity, the tools' quiet switches, and the
# credentials of the systems they talk to for the bot (MLflow and its artifact store, the DVC remote).
_JOB_NAMES = frozenset(
    {
        "HOME",
        "TMPDIR",
        "VIRTUAL_ENV",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "OMP_NUM_THREADS",
    }
)
_JOB_PREFIXES = (
    "GIT_AUTHOR_",
    "GIT_COMMITTER_",
    "DVC_",
    "MLFLOW_",
    "BENTOML_",
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "GCS_",
)

# Never handed on, whatever a config or allow-list says: the bot's settings (secrets, key, database URL),
# GitHub and Actions tokens, and git's environment config (where the job's Authorization header lives).
_NEVER = re.compile(
    r"^(MLOPS_BOT_.*|GITHUB_TOKEN|GH_TOKEN|GH_ENTERPRISE_TOKEN|GITHUB_APP_.*|ACTIONS_RUNTIME_TOKEN|"
    r"ACTIONS_ID_TOKEN_REQUEST_.*|ACTIONS_CACHE_URL|ACTIONS_RUNTIME_URL|GIT_CONFIG_.*|GIT_ASKPASS|SSH_AUTH_SOCK)$"
)

# The bot-level variables a job step needs beside its token (locks in the same database, the same GitHub
# manners). They reach the bot's steps, never a stage.
JOB_SETTINGS = (
    "MLOPS_BOT_DATABASE_URL",
    "MLOPS_BOT_GITHUB_THROTTLE",
    "MLOPS_BOT_BOT_LOGIN",
    "MLOPS_BOT_WORK_DIR",
)


def never_passed(name: str) -> bool:
    """True for a variable that no stage command may receive (the bot's and GitHub's credentials)."""
    return bool(_NEVER.match(name))


def _allowed(name: str, names: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    return name in names or name.startswith(prefixes)


def job_environment(source: Mapping[str, str]) -> dict[str, str]:
    """The part of the bot's environment its own job steps inherit (before the job's token is added)."""
    return {
        k: v
        for k, v in source.items()
        if not never_passed(k)
        and (_allowed(k, _BASE_NAMES, _BASE_PREFIXES) or _allowed(k, _JOB_NAMES, _JOB_PREFIXES))
    }


def stage_environment(
    source: Mapping[str, str],
    *,
    home: str,
    tmp: str,
    pass_env: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the repository's stage commands.

    Only PATH, the locale and time zone, a private HOME and TMPDIR, the variables the repository's config
    names in `training.pass_env` (taken from `source`) and the literal `training.env` values. A name the bot
    never hands on (its own settings, GitHub/Actions tokens, git's environment config) is dropped even when
    the config asks for it.
    """
    env = {
        k: v for k, v in source.items() if _allowed(k, _BASE_NAMES, _BASE_PREFIXES) and not never_passed(k)
    }
    for name in pass_env:
        if name in source and not never_passed(name):
            env[name] = source[name]
    for name, value in (extra or {}).items():
        if not never_passed(name):
            env[name] = value
    env.update(
        {
            "HOME": home,
            "TMPDIR": tmp,
            # The stage's uid has no passwd entry: getpass and DVC ask these first.
            "USER": "mlops-bot-stage",
            "LOGNAME": "mlops-bot-stage",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": f"{tmp}/dvc-site-cache",
            "PYTHONUNBUFFERED": "1",  # keep the stage's prints in order with its errors in the log
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    return env


# The GitHub App permissions each job kind's token carries; the token is minted for the job's one
# repository. https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps
_READ = {"contents": "read", "pull_requests": "read", "metadata": "read"}
_CARD = {**_READ, "contents": "write", "issues": "write", "pull_requests": "write", "checks": "write"}
_REGISTRY = {**_READ, "issues": "write", "deployments": "write", "actions": "read"}
_JUDGE = {"checks": "read", "statuses": "read"}
JOB_PERMISSIONS: dict[str, dict[str, str]] = {
    "train": _CARD,
    "card": _CARD,
    "plan": {**_REGISTRY, **_JUDGE, "deployments": "read"},
    "promote": {**_REGISTRY, **_JUDGE},
    "move": _REGISTRY,  # `actions: read` also reads the target environment's protection rules
    "rollback": _REGISTRY,
    "reconcile": _REGISTRY,
    "drift": _CARD,
}
