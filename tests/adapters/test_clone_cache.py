"""The local executor reuses one cached clone per repository (issue 12): a later job fetches what changed, and
every job still gets a working copy of its own, at the commit it asked for, sharing no file with the cache or
with another job."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from bot.adapters.executor import JobError, LocalExecutor, Step, job_dir_name

Origin = tuple[Path, Path]
TOKEN = "ghs_cachedcloneTOKEN0123456789"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit(work: Path, name: str, text: str, message: str) -> str:
    (work / name).write_text(text)
    git(work, "add", name)
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, Path]:
    """A bare origin (what the executor clones, like the stand-in's) and a working clone that pushes to it."""
    work = tmp_path / "author"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for n in range(20):
        commit(work, f"f{n}.txt", f"{n}\n" * 50, f"commit {n}")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    git(work, "remote", "add", "origin", str(bare))
    return bare, work


def executor(tmp_path: Path) -> LocalExecutor:
    return LocalExecutor(tmp_path / "work", "http://127.0.0.1:9", "sqlite:///x.db", isolation="none",
                         keep_workdirs=True)  # fmt: skip


def run(ex: LocalExecutor, job: str, bare: Path, checkout: str, *, branch: str | None = None,
        env: dict[str, str] | None = None) -> Path:  # fmt: skip
    """Run a one-step job; its working copy (kept)."""
    ex.run(job, clone_url=f"file://{bare}", token=TOKEN, repo="acme/x", checkout=checkout, branch=branch,
           steps=[Step(("--version",))], env=env)  # fmt: skip
    return ex.work_dir.resolve() / "stages" / job_dir_name(job) / "repo"


def spans(ex: LocalExecutor, job: str) -> dict[str, float]:
    data: dict[str, float] = json.loads(
        (ex.work_dir.resolve() / "jobs" / job_dir_name(job) / "spans.json").read_text()
    )
    return data


def cache_of(ex: LocalExecutor) -> Path:
    [cache] = (ex.work_dir.resolve() / "clones").glob("*.git")
    return cache


def object_count(repo: Path) -> int:
    return len(git(repo, "cat-file", "--batch-all-objects", "--batch-check").splitlines())


def test_a_second_job_fetches_only_what_changed_and_sees_it(tmp_path: Path, origin: Origin) -> None:
    bare, author = origin
    ex = executor(tmp_path)
    first = run(ex, "job-1", bare, "main")
    assert "clone" in spans(ex, "job-1")
    held = object_count(cache_of(ex))
    assert held >= 60  # 20 commits, their trees and blobs

    new_head = commit(author, "new.txt", "fresh\n", "one more")
    git(author, "push", "-q", "origin", "main")
    second = run(ex, "job-2", bare, "main")

    assert "fetch" in spans(ex, "job-2") and "clone" not in spans(ex, "job-2")
    assert object_count(cache_of(ex)) - held == 3  # the new commit, its tree and its blob; nothing else
    assert git(second, "rev-parse", "HEAD") == new_head
    assert (second / "new.txt").read_text() == "fresh\n"
    assert not (first / "new.txt").exists()  # job 1's copy was its own


def test_a_fork_head_that_no_branch_holds_is_fetched_by_its_sha(tmp_path: Path, origin: Origin) -> None:
    # On GitHub (and the stand-in) a fork PR's head is in the base repository only as refs/pull/<n>/head, which
    # a plain clone does not fetch.
    bare, author = origin
    git(author, "checkout", "-q", "-b", "fork-work")
    fork_head = commit(author, "fork.txt", "from a fork\n", "fork change")
    git(author, "push", "-q", "origin", f"{fork_head}:refs/pull/7/head")
    ex = executor(tmp_path)
    run(ex, "job-warm", bare, "main")  # the cache exists and holds main, not the fork's head

    copy = run(ex, "job-fork", bare, fork_head)
    assert git(copy, "rev-parse", "HEAD") == fork_head
    assert (copy / "fork.txt").read_text() == "from a fork\n"
    fresh = run(executor(tmp_path / "cold"), "job-fork-cold", bare, fork_head)  # and on a first clone too
    assert git(fresh, "rev-parse", "HEAD") == fork_head


def test_an_unknown_commit_fails_the_job_with_what_is_wrong(tmp_path: Path, origin: Origin) -> None:
    bare, _ = origin
    with pytest.raises(JobError, match=r"commit 0{40} could not be fetched"):
        run(executor(tmp_path), "job-x", bare, "0" * 40)


def test_what_one_job_leaves_in_its_copy_never_reaches_the_next(tmp_path: Path, origin: Origin) -> None:
    bare, author = origin
    commit(author, ".gitignore", "ignored.bin\nout/\n", "ignore outputs")
    git(author, "push", "-q", "origin", "main")
    # Each step starts with this hook (on its PYTHONPATH): it lists the copy it runs in, then litters it with an
    # untracked file, an ignored file, an ignored folder and a change to a tracked file.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, pathlib\n"
        "seen = sorted(p.name for p in pathlib.Path('.').iterdir())\n"
        "pathlib.Path(os.environ['SEEN']).write_text('\\n'.join(seen) + '\\n' + open('f0.txt').read())\n"
        "pathlib.Path('untracked.txt').write_text('a')\n"
        "pathlib.Path('ignored.bin').write_text('a')\n"
        "pathlib.Path('out').mkdir(exist_ok=True)\n"
        "pathlib.Path('out/model.pkl').write_text('a')\n"
        "pathlib.Path('f0.txt').write_text('changed by job A')\n"
    )
    ex = executor(tmp_path)
    for job in ("job-a", "job-b"):
        run(ex, job, bare, "main", env={"PYTHONPATH": str(hook), "SEEN": str(tmp_path / f"{job}.seen")})

    seen_by_b = (tmp_path / "job-b.seen").read_text()
    for leftover in ("untracked.txt", "ignored.bin", "out", "changed by job A"):
        assert leftover not in seen_by_b
    assert "f0.txt" in seen_by_b  # it did look at a checkout
    assert (ex.work_dir.resolve() / "stages" / job_dir_name("job-a") / "repo" / "untracked.txt").exists()


def test_the_cache_keeps_no_token_and_shares_no_file_with_a_job(tmp_path: Path, origin: Origin) -> None:
    bare, _ = origin
    ex = executor(tmp_path)
    copy = run(ex, "job-1", bare, "main")
    run(ex, "job-2", bare, "main")
    cache = cache_of(ex)

    for folder, _, files in os.walk(cache):
        for name in files:
            assert TOKEN.encode() not in Path(folder, name).read_bytes(), Path(folder, name)
    config = git(cache, "config", "--list", "--local")
    assert "remote." not in config and "extraheader" not in config.lower()
    assert git(copy, "remote", "get-url", "origin") == f"file://{bare}"  # pushes (the dvc.lock) go to origin
    # A stage may own its copy (chown to its uid): no hard link into the cache, no alternates borrowing from it.
    cache_inodes = {Path(f, n).stat().st_ino for f, _, ns in os.walk(cache / "objects") for n in ns}
    copy_inodes = {Path(f, n).stat().st_ino for f, _, ns in os.walk(copy / ".git" / "objects") for n in ns}
    assert copy_inodes and not cache_inodes & copy_inodes
    assert not (copy / ".git" / "objects" / "info" / "alternates").exists()
    assert (ex.work_dir.resolve() / "clones").stat().st_mode & 0o777 == 0o700


def test_a_force_pushed_branch_is_seen_as_origin_has_it(tmp_path: Path, origin: Origin) -> None:
    bare, author = origin
    git(author, "checkout", "-q", "-b", "tune")
    old = commit(author, "tune.txt", "old\n", "tune")
    git(author, "push", "-q", "origin", "tune")
    git(author, "checkout", "-q", "-b", "gone")
    git(author, "push", "-q", "origin", "gone")
    ex = executor(tmp_path)
    assert git(run(ex, "job-1", bare, "tune", branch="tune"), "rev-parse", "HEAD") == old

    git(author, "checkout", "-q", "tune")
    git(author, "reset", "-q", "--hard", "HEAD~1")
    rewritten = commit(author, "tune.txt", "rewritten\n", "tune, again")
    git(author, "push", "-q", "--force", "origin", "tune")
    git(author, "push", "-q", "origin", "--delete", "gone")
    copy = run(ex, "job-2", bare, rewritten, branch="tune")

    assert git(copy, "rev-parse", "HEAD") == rewritten
    assert git(copy, "rev-parse", "refs/remotes/origin/tune") == rewritten
    assert "origin/gone" not in git(copy, "branch", "-r")  # pruned
    assert git(run(ex, "job-3", bare, "tune"), "rev-parse", "HEAD") == rewritten  # by name too


def test_jobs_of_one_repository_may_start_together(tmp_path: Path, origin: Origin) -> None:
    bare, author = origin
    heads = [git(author, "rev-parse", f"HEAD~{n}") for n in range(4)]
    ex = executor(tmp_path)
    errors: list[BaseException] = []
    copies: dict[str, Path] = {}

    def job(n: int) -> None:
        try:
            copies[heads[n]] = run(ex, f"job-{n}", bare, heads[n])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert {git(copy, "rev-parse", "HEAD") for copy in copies.values()} == set(heads)


def test_a_broken_cache_is_cloned_again(tmp_path: Path, origin: Origin) -> None:
    bare, _ = origin
    ex = executor(tmp_path)
    run(ex, "job-1", bare, "main")
    (cache_of(ex) / "HEAD").write_text("garbage\n")  # e.g. a write cut off by a crash
    copy = run(ex, "job-2", bare, "main")
    assert "clone" in spans(ex, "job-2")
    assert git(copy, "rev-parse", "HEAD") == git(bare, "rev-parse", "main")


def test_a_fork_pull_requests_head_on_the_github_stand_in(tmp_path: Path) -> None:
    # What the stand-in's git server holds for a fork PR (as GitHub does): the head only as refs/pull/<n>/head of
    # the base repository, whose clone_url the job is given.
    from bot.standin import StandIn

    src = tmp_path / "src"
    src.mkdir()
    (src / "README.md").write_text("base\n")
    with StandIn(tmp_path / "github") as standin:
        standin.create_repo("acme/model", source=src)
        standin.create_user("mallory")
        fork = standin.fork("acme/model", "mallory")
        standin.commit(fork, "fix", {"notes.txt": "from the fork\n"}, "Fork change", author="mallory")
        number = standin.open_pull("acme/model", head="mallory:fix", title="Fork change", author="mallory")
        head = str(standin.repo("acme/model").pulls[number].head_sha)
        clone_url = standin.repo("acme/model").path.as_uri()
        ex = executor(tmp_path)
        for job in ("job-main", "job-fork"):  # the second from the cache, which holds main only
            ex.run(job, clone_url=clone_url, token=TOKEN, repo="acme/model",
                   checkout="main" if job == "job-main" else head, branch=None, steps=[Step(("--version",))])  # fmt: skip
        copy = ex.work_dir.resolve() / "stages" / job_dir_name("job-fork") / "repo"
        assert git(copy, "rev-parse", "HEAD") == head
        assert (copy / "notes.txt").read_text() == "from the fork\n"
