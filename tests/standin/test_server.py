"""PyGithub against the running stand-in, one endpoint family at a time.

The `standin` fixture is strict: every request must follow GitHub's REST description and every 2xx answer
must match the description's response schema, or the test fails at teardown.
"""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from github import Auth, Github, GithubException, GithubIntegration, InputGitTreeElement

from bot.standin import StandIn

from .conftest import World, client


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


# -- repositories, branches, contents --------------------------------------------------------------------
def test_repository_is_a_real_git_repo_the_bot_can_clone_and_push(world: World, tmp_path: Path) -> None:
    repo = world.bot()
    assert repo.full_name == world.full_name
    assert repo.default_branch == "main"
    assert repo.clone_url.startswith("file://")

    checkout = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", repo.clone_url, str(checkout)], check=True)
    assert (checkout / "params.yaml").read_text() == "lr: 0.1\n"
    (checkout / "params.yaml").write_text("lr: 0.2\n")
    git("commit", "-qam", "tune", cwd=checkout)
    git("push", "-q", "origin", "HEAD:refs/heads/tune", cwd=checkout)
    world.standin.notify_push(world.full_name, "tune", pusher=world.writer)

    assert repo.get_branch("tune").commit.sha == git("rev-parse", "HEAD", cwd=checkout)
    assert {b.name for b in repo.get_branches()} == {"main", "tune"}
    assert repo.get_contents("params.yaml", ref="tune").decoded_content == b"lr: 0.2\n"
    assert repo.get_contents("params.yaml").decoded_content == b"lr: 0.1\n"
    assert sorted(c.path for c in repo.get_contents("")) == [".github", "README.md", "params.yaml"]


def test_missing_file_and_repo_are_404(world: World) -> None:
    repo = world.bot()
    with pytest.raises(GithubException) as missing:
        repo.get_contents("nope.txt")
    assert missing.value.status == 404
    with pytest.raises(GithubException) as no_repo:
        client(world.standin, world.bot_token).get_repo("nobody/nothing")
    assert no_repo.value.status == 404


def test_contents_put_creates_and_updates_with_sha_check(world: World) -> None:
    repo = world.as_user(world.writer_token)
    made = repo.create_file("data/new.txt", "add", "one\n", branch="main")
    assert made["commit"].sha == repo.get_branch("main").commit.sha
    updated = repo.update_file("data/new.txt", "edit", "two\n", made["content"].sha, branch="main")
    assert repo.get_contents("data/new.txt").decoded_content == b"two\n"
    with pytest.raises(GithubException) as stale:
        repo.update_file("data/new.txt", "stale", "three\n", made["content"].sha, branch="main")
    assert stale.value.status == 409
    assert updated["commit"].parents[0].sha == made["commit"].sha


def test_reader_cannot_write_and_unknown_token_is_401(world: World) -> None:
    repo = world.as_user(world.reader_token)
    with pytest.raises(GithubException) as forbidden:
        repo.create_file("x.txt", "nope", "x", branch="main")
    assert forbidden.value.status == 403
    with pytest.raises(GithubException) as unknown:
        client(world.standin, "ghp_not_a_token").get_repo(world.full_name).default_branch  # noqa: B018
    assert unknown.value.status == 401


# -- git data ---------------------------------------------------------------------------------------------
def test_git_data_api_makes_one_commit_on_a_new_branch(world: World) -> None:
    repo = world.bot()
    main = repo.get_git_ref("heads/main")
    parent = repo.get_git_commit(main.object.sha)
    blob = repo.create_git_blob("binary\x00ish", "utf-8")
    assert repo.get_git_blob(blob.sha).content
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("dvc.lock", "100644", "blob", content="schema: '2.0'\n"),
            InputGitTreeElement("blob.bin", "100644", "blob", sha=blob.sha),
            InputGitTreeElement("README.md", "100644", "blob", sha=None),
        ],
        base_tree=parent.tree,
    )
    commit = repo.create_git_commit("lock", tree, [parent])
    ref = repo.create_git_ref("refs/heads/bot/lock", commit.sha)
    assert ref.object.sha == commit.sha

    paths = {e.path for e in repo.get_git_tree(commit.sha, recursive=True).tree}
    assert {"dvc.lock", "blob.bin", "params.yaml"} <= paths and "README.md" not in paths
    assert repo.get_git_commit(commit.sha).parents[0].sha == parent.sha
    assert repo.get_commit(commit.sha).files[0].filename in {"README.md", "blob.bin", "dvc.lock"}
    assert [r.ref for r in repo.get_git_matching_refs("heads/bot")] == ["refs/heads/bot/lock"]

    # PyGithub reads refs back through the legacy /git/refs/ path GitHub still answers
    again = repo.get_git_ref("refs/heads/bot/lock")
    assert again.object.sha == commit.sha
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/bot/lock", commit.sha)
    assert exists.value.status == 422

    newer = repo.create_git_commit("again", tree, [repo.get_git_commit(commit.sha)])
    again.edit(newer.sha)
    with pytest.raises(GithubException) as not_ff:
        again.edit(parent.sha)
    assert not_ff.value.status == 422
    again.edit(parent.sha, force=True)
    assert repo.get_branch("bot/lock").commit.sha == parent.sha
    again.delete()
    assert "bot/lock" not in {b.name for b in repo.get_branches()}


# -- pull requests ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "parents"), [("merge", 2), ("squash", 1), ("rebase", 1)])
def test_merge_methods_use_real_git(world: World, method: str, parents: int) -> None:
    s = world.standin
    s.commit(world.full_name, "feat", {"params.yaml": "lr: 0.3\n"}, "one", author=world.writer)
    s.commit(world.full_name, "feat", {"extra.txt": "x\n"}, "two", author=world.writer)
    s.commit(world.full_name, "main", {"README.md": "# moved on\n"}, "base moves", author=world.owner)
    number = s.open_pull(world.full_name, head="feat", title="Tune", author=world.writer)
    pr = world.bot().get_pull(number)
    assert (pr.commits, pr.changed_files, pr.mergeable) == (2, 2, True)
    result = pr.merge(merge_method=method)
    assert result.merged
    repo = world.bot()
    merged = repo.get_git_commit(result.sha)
    assert len(merged.parents) == parents
    assert repo.get_contents("params.yaml").decoded_content == b"lr: 0.3\n"
    assert repo.get_contents("README.md").decoded_content == b"# moved on\n"
    assert repo.get_pull(number).merged and repo.get_pull(number).merge_commit_sha == result.sha
    if method == "rebase":
        assert merged.message == "two" and repo.get_git_commit(merged.parents[0].sha).message == "one"


def test_conflicting_pull_is_not_mergeable(world: World) -> None:
    s = world.standin
    s.commit(world.full_name, "clash", {"params.yaml": "lr: 9\n"}, "mine", author=world.writer)
    s.commit(world.full_name, "main", {"params.yaml": "lr: 8\n"}, "theirs", author=world.owner)
    number = s.open_pull(world.full_name, head="clash", title="Clash", author=world.writer)
    pr = world.bot().get_pull(number)
    assert pr.mergeable is False
    with pytest.raises(GithubException) as refused:
        pr.merge()
    assert refused.value.status == 405


def test_pulls_create_list_filter_update_files_reviews(world: World) -> None:
    s = world.standin
    s.commit(world.full_name, "a", {"a.txt": "a\n"}, "a", author=world.writer)
    s.commit(world.full_name, "b", {"b.txt": "b\n"}, "b", author=world.writer)
    repo = world.as_user(world.writer_token)
    pr_a = repo.create_pull(base="main", head="a", title="A", body="body a")
    pr_b = repo.create_pull(base="main", head=f"{world.owner}:b", title="B", body="")
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="a", title="again")
    assert duplicate.value.status == 422

    bot = world.bot()
    assert [p.number for p in bot.get_pulls(state="open", head=f"{world.owner}:a")] == [pr_a.number]
    assert {p.number for p in bot.get_pulls(base="main")} == {pr_a.number, pr_b.number}
    assert [f.filename for f in bot.get_pull(pr_a.number).get_files()] == ["a.txt"]
    assert len(list(bot.get_pull(pr_a.number).get_commits())) == 1

    pr_b.edit(title="B2", state="closed")
    assert [p.number for p in bot.get_pulls(state="closed")] == [pr_b.number]
    assert bot.get_pull(pr_b.number).title == "B2"
    pr_b.edit(state="open")
    assert bot.get_pull(pr_b.number).state == "open"

    s.approve(world.full_name, pr_a.number, by=world.owner)
    bot.get_pull(pr_a.number).create_review(body="looks fine", event="COMMENT")
    assert [r.state for r in bot.get_pull(pr_a.number).get_reviews()] == ["APPROVED", "COMMENTED"]
    assert not bot.get_pull(pr_a.number).is_merged()


def test_fork_pull_request_merges_from_the_fork(world: World) -> None:
    s = world.standin
    fork = s.fork(world.full_name, world.reader)
    s.commit(fork, "idea", {"params.yaml": "lr: 0.5\n"}, "fork idea", author=world.reader)
    number = s.open_pull(
        world.full_name, head=f"{world.reader}:idea", title="From a fork", author=world.reader
    )
    pr = world.bot().get_pull(number)
    assert pr.head.repo.full_name == fork and pr.base.repo.full_name == world.full_name
    s.commit(fork, "idea", {"more.txt": "m\n"}, "more", author=world.reader)
    assert world.bot().get_pull(number).commits == 2
    s.merge_pull(world.full_name, number, by=world.owner)
    assert world.bot().get_contents("more.txt").decoded_content == b"m\n"


# -- issues, labels, comments, reactions ------------------------------------------------------------------
def test_issues_filters_labels_and_state(world: World) -> None:
    bot = world.bot()
    drift = bot.create_issue(title="Drift on iris", body="<!-- drift:iris -->", labels=["drift"])
    other = world.as_user(world.reader_token).create_issue(title="Question", body="?")
    assert {i.number for i in bot.get_issues(labels=[bot.get_label("drift")])} == {drift.number}
    assert {i.number for i in bot.get_issues(creator=world.reader)} == {other.number}
    drift.edit(state="closed")
    assert {i.number for i in bot.get_issues(state="closed")} == {drift.number}
    drift.edit(state="open", body="<!-- drift:iris -->\nagain")
    drift.add_to_labels("retrain")
    assert sorted(lb.name for lb in bot.get_issue(drift.number).labels) == ["drift", "retrain"]
    bot.create_label("gate", "ff0000", "promotion gate")
    assert {lb.name for lb in bot.get_labels()} == {"drift", "gate", "retrain"}
    with pytest.raises(GithubException) as exists:
        bot.create_label("gate", "00ff00")
    assert exists.value.status == 422


def test_comments_crud_and_reactions(world: World) -> None:
    s = world.standin
    issue = world.bot().create_issue(title="t")
    number = issue.number
    first = world.as_user(world.writer_token).get_issue(number).create_comment("/train")
    mine = world.bot().get_issue(number).create_comment("<!-- card -->\nv1")
    mine.edit("<!-- card -->\nv2")
    assert world.bot().get_issue(number).get_comment(mine.id).body == "<!-- card -->\nv2"
    first_again = world.bot().get_issue(number).get_comment(first.id)
    assert first_again.create_reaction("eyes").content == "eyes"
    first_again.create_reaction("eyes")  # same user, same content: GitHub answers the existing one
    assert [r.content for r in first_again.get_reactions()] == ["eyes"]
    assert [r.content for r in s.reactions(world.full_name, first.id)] == ["eyes"]
    with pytest.raises(GithubException) as not_yours:
        world.as_user(world.reader_token).get_issue(number).get_comment(first.id).edit("hijack")
    assert not_yours.value.status == 403
    mine.delete()
    assert [c.body for c in world.bot().get_issue(number).get_comments()] == ["/train"]


def test_pagination_follows_link_headers(world: World) -> None:
    issue = world.bot().create_issue(title="many")
    for i in range(25):
        world.standin.comment(world.full_name, issue.number, f"c{i}", author=world.writer)
    g = Github(
        base_url=world.standin.base_url,
        auth=Auth.Token(world.bot_token),
        retry=None,
        per_page=10,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    bodies = [c.body for c in g.get_repo(world.full_name).get_issue(issue.number).get_comments()]
    assert bodies == [f"c{i}" for i in range(25)]
    pages = [r for r in world.standin.requests if r.path.endswith(f"/issues/{issue.number}/comments")]
    assert len(pages) >= 3


@pytest.mark.parametrize(
    ("role", "legacy"),
    [("admin", "admin"), ("maintain", "write"), ("write", "write"), ("triage", "read"), ("read", "read")],
)
def test_collaborator_permission_answers_role_and_legacy_permission(
    world: World, role: str, legacy: str
) -> None:
    world.standin.create_user(f"collab-{role}")
    world.standin.set_permission(world.full_name, f"collab-{role}", role)
    repo = world.bot()
    assert repo.get_collaborator_role_name(f"collab-{role}") == role
    assert repo.get_collaborator_permission(f"collab-{role}") == legacy


def test_permission_of_unknown_user_is_404(world: World) -> None:
    with pytest.raises(GithubException) as missing:
        world.bot().get_collaborator_permission("ghost-user")
    assert missing.value.status == 404


# -- checks, statuses, deployments, environments, workflows ------------------------------------------------
def test_check_runs_statuses_and_combined_status(world: World) -> None:
    s = world.standin
    sha = s.commit(world.full_name, "exp", {"x.txt": "x"}, "x", author=world.writer)
    repo = world.bot()
    run = repo.create_check_run(name="mlops/iris", head_sha=sha, status="in_progress")
    run.edit(conclusion="success", output={"title": "Card", "summary": "ok", "text": "details"})
    again = repo.get_check_run(run.id)
    assert (again.status, again.conclusion, again.output.summary) == ("completed", "success", "ok")
    assert [r.name for r in repo.get_commit(sha).get_check_runs(check_name="mlops/iris")] == ["mlops/iris"]
    with pytest.raises(GithubException) as apps_only:
        world.as_user(world.writer_token).create_check_run(name="x", head_sha=sha)
    assert apps_only.value.status == 403

    commit = repo.get_commit(sha)
    commit.create_status("pending", context="ci/a")
    commit.create_status("success", context="ci/a", description="done")
    commit.create_status("success", context="ci/b")
    combined = repo.get_commit(sha).get_combined_status()
    assert combined.state == "success" and combined.total_count == 2
    assert len(list(repo.get_commit(sha).get_statuses())) == 3


def test_deployments_statuses_and_environments(world: World) -> None:
    repo = world.bot()
    first = repo.create_deployment(
        ref="main",
        environment="production",
        payload={"model": "iris", "version": "1"},
        description="v1",
        required_contexts=[],
        auto_merge=False,
    )
    first.create_status("success", description="promoted", target_url="http://mlflow.invalid/1")
    second = repo.create_deployment(
        ref="main", environment="production", payload={"version": "2"}, required_contexts=[], auto_merge=False
    )
    second.create_status("success")
    assert [d.id for d in repo.get_deployments(environment="production")] == [second.id, first.id]
    assert repo.get_deployment(first.id).payload == {"model": "iris", "version": "1"}
    assert [st.state for st in repo.get_deployment(first.id).get_statuses()] == ["inactive", "success"]
    assert repo.get_environment("production").name == "production"
    repo.create_environment("staging")
    assert repo.get_environment("staging").name == "staging"


def test_workflows_list_and_dispatch_is_recorded(world: World) -> None:
    repo = world.bot()
    workflows = list(repo.get_workflows())
    assert [(w.name, w.path) for w in workflows] == [("train", ".github/workflows/train.yml")]
    assert repo.get_workflow("train.yml").create_dispatch("main", {"model": "iris"}, throw=True)
    dispatch = world.standin.dispatches(world.full_name)[0]
    assert (dispatch.workflow, dispatch.ref, dispatch.inputs) == (
        ".github/workflows/train.yml",
        "main",
        {"model": "iris"},
    )


# -- apps and users ---------------------------------------------------------------------------------------
def test_app_jwt_installation_token_flow(world: World) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    world.standin.register_app(4242, public)
    integration = GithubIntegration(base_url=world.standin.base_url, auth=Auth.AppAuth(4242, pem))
    assert integration.get_app().slug == "mlops-bot"
    installation = integration.get_repo_installation(*world.full_name.split("/"))
    assert installation.id == world.installation_id
    grant = integration.get_access_token(installation.id)
    repo = client(world.standin, grant.token).get_repo(world.full_name)
    made = repo.create_issue(title="as the app")
    assert made.user.login == "mlops-bot[bot]" and made.user.type == "Bot"

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(GithubException) as refused:
        GithubIntegration(base_url=world.standin.base_url, auth=Auth.AppAuth(4242, forged)).get_app()
    assert refused.value.status == 401


def test_user_endpoint_for_people_not_for_installations(world: World) -> None:
    assert client(world.standin, world.writer_token).get_user().login == world.writer
    with pytest.raises(GithubException) as refused:
        client(world.standin, world.bot_token).get_user().login  # noqa: B018
    assert refused.value.status == 403


# -- validation against GitHub's description ----------------------------------------------------------------
def test_invalid_requests_get_githubs_errors_and_are_recorded(world: World) -> None:
    s = world.standin
    headers = {"Authorization": f"token {world.bot_token}"}
    api = f"{s.base_url}/repos/{world.full_name}"
    bad_state = httpx.patch(f"{api}/issues/1", json={"state": "finished"}, headers=headers)
    assert bad_state.status_code == 422
    assert bad_state.json()["message"].startswith("Invalid request") and bad_state.json()["errors"]
    missing = httpx.post(f"{api}/issues", json={"body": "no title"}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["code"] == "missing_field"
    unknown = httpx.get(f"{api}/no-such-thing", headers=headers)
    assert unknown.status_code == 404
    bad_json = httpx.post(f"{api}/issues", content=b"{not json", headers=headers)
    assert bad_json.status_code == 400
    assert len(s.violations) == 4
    s.violations.clear()  # expected here; the fixture fails any other test that leaves one


def test_every_handler_serves_an_operation_of_the_description() -> None:
    from bot.standin.api import HANDLERS
    from bot.standin.spec import rest_spec

    described = {o.operation_id for o in rest_spec().operations}
    assert set(HANDLERS) == described


def test_standin_starts_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    with StandIn(tmp_path) as s:
        elapsed = time.perf_counter() - started
        assert httpx.get(f"{s.base_url}/repos/a/b").status_code == 404
    assert elapsed < 1.0


def test_content_is_base64_like_github(world: World) -> None:
    raw = httpx.get(
        f"{world.standin.base_url}/repos/{world.full_name}/contents/params.yaml",
        headers={"Authorization": f"token {world.bot_token}"},
    ).json()
    assert raw["encoding"] == "base64" and base64.b64decode(raw["content"]) == b"lr: 0.1\n"


def test_response_check_catches_a_wrong_shape() -> None:
    from bot.standin.spec import rest_spec

    problems = rest_spec().response_errors("GET", "/repos/a/b", 200, {"id": "not-a-number"})
    assert any("required property" in p for p in problems)
    assert any("id" in p for p in problems)
