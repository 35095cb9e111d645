"""Issue 18, finding 1: a pull request's stage code must never reach the bot's credentials.

The attack, as the security review ran it: a writer opens a PR whose `train.py` first runs a payload, then
trains as usual. The payload dumps its environment, tries the App's private key file, scans every
`/proc/<pid>/environ` for the bot's secrets and tokens, tries the GitHub API with whatever token it found,
and leaves a detached process behind to read the next job's token. The real bot (FastAPI app, worker, local
executor) trains it from the stand-in over HTTP; the test then reads what the payload could see.
"""

from __future__ import annotations

import json
import os
import secrets
import textwrap
from pathlib import Path

import pytest
from github import Auth, Github
from pydantic import SecretStr

from bot.adapters.dvc import init_sample_project
from bot.core.isolation import JOB_PERMISSIONS
from tests.reliability.harness import ADMIN, WRITER, app_keys, bot_in_process, make_world, wait_for

REPO = "acme/attacked"
SECRET_REPO = "acme/secret-sauce"  # a private sibling in the same installation the PR author cannot see
FOREIGN_REPO = "umbrella/vault"  # a private repository of another organisation's installation

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="uid isolation needs root (CI runs as root)")


def _payload(evidence: Path, key_path: Path, api_url: str) -> str:
    return textwrap.dedent(
        f"""\
        # --- the attacker's payload (PR code); then the real training runs ---
        import json as _j, os as _o, subprocess as _s, sys as _y, urllib.request as _u
        _found = {{"env": dict(_o.environ), "uid": _o.getuid(), "key": None, "proc": [], "api": {{}}}}
        try:
            _found["key"] = open({str(key_path)!r}).read()
        except OSError as _e:
            _found["key_error"] = str(_e)
        for _pid in _o.listdir("/proc"):
            if _pid.isdigit():
                try:
                    _env = open(f"/proc/{{_pid}}/environ", "rb").read().decode(errors="replace")
                except OSError:
                    continue
                if "MLOPS_BOT_" in _env or "ghs_" in _env or "GITHUB_TOKEN" in _env:
                    _found["proc"].append(_pid)
        _token = _o.environ.get("GITHUB_TOKEN", "")
        for _name in ({SECRET_REPO!r}, {FOREIGN_REPO!r}):
            _req = _u.Request({api_url!r} + "/repos/" + _name, headers={{"Authorization": "token " + _token}})
            try:
                _found["api"][_name] = _u.urlopen(_req, timeout=5).status
            except Exception as _e:
                _found["api"][_name] = getattr(_e, "code", str(_e))
        _child = _s.Popen([_y.executable, "-c", "import time; time.sleep(300)"], start_new_session=True,
                          stdout=_s.DEVNULL, stderr=_s.DEVNULL)
        _found["left_behind"] = _child.pid
        with open({str(evidence)!r}, "w") as _f:
            _j.dump(_found, _f)
        # --- end of payload ---
        """
    )


def test_pull_request_code_sees_no_credential_and_leaves_no_process(tmp_path: Path) -> None:
    private_key, public_key = app_keys()
    evidence_dir = Path("/tmp") / f"mlops-bot-attack-{secrets.token_hex(4)}"  # the stage may write /tmp
    evidence_dir.mkdir(mode=0o777)
    evidence_dir.chmod(0o777)
    evidence = evidence_dir / "found.json"
    key_path = tmp_path / "app-key.pem"
    key_path.write_text(private_key)
    key_path.chmod(0o600)
    world = make_world(tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}", private_key=private_key,
                       public_key=public_key, executor="local")  # fmt: skip
    standin = world.standin
    settings = world.settings.model_copy(
        update={
            "private_key": None,
            "private_key_path": key_path,
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "mlflow_webhook_secret": SecretStr("mlflow-webhook-secret-value"),
            "stage_isolation": "user",
        }
    )
    world.settings = settings
    try:
        seed = init_sample_project(tmp_path / "sample", remote=tmp_path / "dvc-remote")
        standin.create_repo(REPO, source=seed)
        standin.set_permission(REPO, WRITER, "write")
        standin.create_repo(SECRET_REPO, source=_one_file(tmp_path / "secret", "recipe.txt"), private=True)
        standin.set_permission(SECRET_REPO, ADMIN, "admin")
        standin.install_app(REPO)
        standin.install_app(SECRET_REPO)
        standin.create_user("umbrella")
        standin.create_repo(FOREIGN_REPO, source=_one_file(tmp_path / "vault", "plans.txt"), private=True)
        standin.install_app(FOREIGN_REPO)

        train_py = (seed / "src" / "train.py").read_text()
        payload = _payload(evidence, key_path, settings.github_base_url)
        head, future, rest = train_py.partition("from __future__ import annotations\n")
        standin.commit(REPO, "innocent-change", {"src/train.py": head + future + payload + rest}, "Tidy training",
                       author=WRITER, base="main")  # fmt: skip
        with bot_in_process(world):
            pr = standin.open_pull(REPO, head="innocent-change", title="Tidy training", author=WRITER)
            wait_for(lambda: standin.check_runs(REPO), "the card's check run", timeout=240)
            cards = [c.body for c in standin.comments(REPO, pr)]
            assert evidence.exists(), f"the PR's stage did not run; the bot said: {cards}"
            found = json.loads(evidence.read_text())
        leaked = {k for k in found["env"] if k.startswith("MLOPS_BOT_") or k in ("GITHUB_TOKEN", "GH_TOKEN")}
        leaked |= {k for k in found["env"] if k.startswith("GIT_CONFIG")}
        assert not leaked, f"the stage received the bot's variables {sorted(leaked)}"
        values = "\n".join(found["env"].values())
        for secret in (settings.webhook_secret.get_secret_value(), "mlflow-webhook-secret-value", "ghs_",
                       str(key_path), "bot.db"):  # fmt: skip
            assert secret not in values, f"{secret!r} reached the stage's environment"
        assert found["uid"] != os.getuid(), "the stage ran as the bot's own user"
        assert found["key"] is None, "the stage read the App's private key"
        assert found["proc"] == [], f"the stage read credentials from /proc/{found['proc']}/environ"
        assert found["api"][SECRET_REPO] == 404 or found["api"][SECRET_REPO] == 401
        assert found["api"][FOREIGN_REPO] in (401, 404)
        assert not Path(f"/proc/{found['left_behind']}").exists(), (
            "a process the stage detached outlived the job"
        )
        card = standin.check_runs(REPO)[0]
        assert card.conclusion == "success", "the stage's own training still ran to a card"
        jobs_dir = Path(settings.work_dir) / "jobs"
        assert not any(jobs_dir.glob("*")), "the job directory was kept"
    finally:
        standin.stop()
        for path in evidence_dir.glob("*"):
            path.unlink()
        evidence_dir.rmdir()


def test_a_job_token_reaches_only_its_own_repository_with_its_own_permissions(tmp_path: Path) -> None:
    """What the job's token can do, asked of the stand-in through PyGithub: the repository it was minted for,
    with the job's permissions; not a private sibling in the same installation, not another installation."""
    from bot.adapters.github import GitHubFactory

    private_key, public_key = app_keys()
    world = make_world(tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}", private_key=private_key,
                       public_key=public_key)  # fmt: skip
    standin = world.standin
    try:
        standin.create_repo(SECRET_REPO, source=_one_file(tmp_path / "secret", "recipe.txt"), private=True)
        standin.install_app(SECRET_REPO)
        standin.create_user("umbrella")
        standin.create_repo(FOREIGN_REPO, source=_one_file(tmp_path / "vault", "plans.txt"), private=True)
        foreign_installation = standin.install_app(FOREIGN_REPO)
        factory = GitHubFactory(world.settings)
        token = factory.token(world.installation_id, "acme/model", permissions=JOB_PERMISSIONS["rollback"])
        gh = Github(base_url=world.settings.github_base_url, auth=Auth.Token(token), retry=None)
        repo = gh.get_repo("acme/model")
        assert repo.get_contents(".github/mlops-bot.yml")  # contents: read
        with pytest.raises(Exception) as refused:
            gh.get_repo(SECRET_REPO)
        assert getattr(refused.value, "status", None) == 404
        with pytest.raises(Exception) as refused:
            repo.create_check_run(
                name="forged", head_sha=repo.get_branch("main").commit.sha
            )  # no checks: write
        assert getattr(refused.value, "status", None) == 403
        # Even an unscoped token of one installation never sees another installation's private repository.
        unscoped = Github(base_url=world.settings.github_base_url,
                          auth=Auth.Token(factory.token(world.installation_id, "acme/model")), retry=None)  # fmt: skip
        with pytest.raises(Exception) as refused:
            unscoped.get_repo(FOREIGN_REPO)
        assert getattr(refused.value, "status", None) == 404
        assert foreign_installation != world.installation_id
        assert not standin.violations, standin.violations
    finally:
        standin.stop()


def _one_file(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True)
    (folder / name).write_text("private\n")
    return folder
