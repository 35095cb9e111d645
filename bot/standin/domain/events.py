"""Webhooks the stand-in sends, and the JSON shared by REST answers and webhook payloads."""

from __future__ import annotations

from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import State
from bot.standin.gitstore import MergeConflict
from bot.standin.model import Comment, Issue, Label, Pull, Repo, WorkflowRun, now_iso
from bot.standin.webhooks import DeliveryRecord, conform


class Events(State):
    """What GitHub announces: webhooks, and the JSON of repositories, users, issues and pull requests that
    REST answers and webhook payloads share."""

    def repo_json(self, repo: Repo, *, full: bool = False, viewer: str | None = None) -> dict[str, Any]:
        owner = self.ensure_owner(repo.owner)
        parent = None
        if repo.fork_of and full:
            source = self._repo(repo.fork_of)
            parent = shapes.repository(self.urls, source, self.ensure_owner(source.owner))
        if full:
            role = self.role(repo, viewer) if viewer else None
            return shapes.full_repository(self.urls, repo, owner, role, parent)
        return shapes.repository(self.urls, repo, owner)

    def user_json(self, login: str) -> dict[str, Any]:
        return shapes.user(self.urls, self.ensure_user(login))

    def labels_of(self, repo: Repo, issue: Issue) -> list[Label]:
        return [self.ensure_label(repo, name) for name in issue.labels]

    def pull_json(self, repo: Repo, pull: Pull, *, detailed: bool = True) -> dict[str, Any]:
        issue = repo.issues[pull.number]
        head_repo = self._repo(pull.head_repo)
        base_sha = repo.git.branch_sha(pull.base_ref) or pull.base_sha
        if not pull.merged:
            pull.base_sha = base_sha
        stats = (0, 0, 0, 0)
        mergeable: bool | None = None
        if detailed:
            compare_base = pull.base_sha if pull.merged else base_sha
            commits = repo.git.commits_between(compare_base, pull.head_sha) if not pull.merged else []
            if pull.merged:
                merge_base = repo.git.text("merge-base", pull.base_sha, pull.head_sha)
                commits = repo.git.commits_between(merge_base, pull.head_sha)
            files = repo.git.changed_files(compare_base, pull.head_sha)
            stats = (len(commits), sum(f[2] for f in files), sum(f[3] for f in files), len(files))
            if not pull.merged and issue.state == "open":
                try:
                    repo.git.merge_trees(base_sha, pull.head_sha)
                    mergeable = True
                except MergeConflict:
                    mergeable = False
        return shapes.pull_request(
            self.urls,
            repo,
            head_repo,
            pull,
            issue,
            self.users,
            self.labels_of(repo, issue),
            repo_json=self.repo_json(repo),
            head_repo_json=self.repo_json(head_repo),
            stats=stats,
            mergeable=mergeable,
        )

    def issue_json(self, repo: Repo, issue: Issue) -> dict[str, Any]:
        out = shapes.issue(self.urls, repo.full_name, issue, self.users, self.labels_of(repo, issue))
        if issue.is_pull:
            out["pull_request"]["merged_at"] = repo.pulls[issue.number].merged_at
        return out

    # -- webhooks --------------------------------------------------------------------------------------------
    def _emit(self, event: str, action: str | None, repo: Repo, sender: str, body: dict[str, Any]) -> None:
        payload: dict[str, Any] = {}
        if action is not None:
            payload["action"] = action
        payload.update(body)
        payload["repository"] = self.repo_json(repo)
        payload["sender"] = self.user_json(sender)
        target = repo
        if repo.fork_of and event == "push":
            target = repo
        inst = self.installation_of(target.full_name)
        if inst is not None:
            payload["installation"] = {"id": inst.id, "node_id": shapes.node_id("Installation", inst.id)}
        schema = {"$ref": f"#/definitions/{self.hook_schemas.definition_name(event, action)}"}
        self._sender.send(event, action, conform(payload, schema, self.hook_schemas))

    def _emit_issue(self, repo: Repo, issue: Issue, action: str, sender: str) -> None:
        self._emit("issues", action, repo, sender, {"issue": self.issue_json(repo, issue)})

    def _emit_comment(
        self,
        repo: Repo,
        issue: Issue,
        comment: Comment,
        action: str,
        sender: str,
        changes: dict[str, Any] | None = None,
    ) -> None:
        body: dict[str, Any] = {}
        if changes is not None:
            body["changes"] = changes
        body["issue"] = self.issue_json(repo, issue)
        body["comment"] = shapes.comment(
            self.urls, repo.full_name, comment, self.users, is_pull=issue.is_pull
        )
        self._emit("issue_comment", action, repo, sender, body)

    def _emit_pull(
        self,
        repo: Repo,
        pull: Pull,
        action: str,
        sender: str,
        *,
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"number": pull.number, "pull_request": self.pull_json(repo, pull)}
        if action == "synchronize":
            body["before"] = before
            body["after"] = after
        self._emit("pull_request", action, repo, sender, body)

    def _emit_push(self, repo: Repo, branch: str, before: str, after: str, pusher: str) -> None:
        git = repo.git
        zero = "0" * 40
        created, deleted = before == zero, after == zero
        shas: list[str] = []
        if not deleted:
            if created:
                others = [
                    sha for name, sha in git.refs("refs/heads/").items() if name != f"refs/heads/{branch}"
                ]
                shas = git.text("rev-list", "--reverse", after, *[f"^{s}" for s in others]).split()
            elif git.object_type(before):
                shas = git.commits_between(before, after)
        forced = (
            not created
            and not deleted
            and bool(git.object_type(before))
            and not git.is_ancestor(before, after)
        )
        commits = [self._push_commit(repo, sha) for sha in shas[-20:]]
        head_commit = self._push_commit(repo, after) if not deleted else None
        user = self.ensure_user(pusher)
        self._emit(
            "push",
            None,
            repo,
            pusher,
            {
                "ref": f"refs/heads/{branch}",
                "before": before,
                "after": after,
                "created": created,
                "deleted": deleted,
                "forced": forced,
                "base_ref": None,
                "compare": f"{self.html_url}/{repo.full_name}/compare/{before[:12]}...{after[:12]}",
                "commits": commits,
                "head_commit": head_commit,
                "pusher": {
                    "name": user.login,
                    "email": f"{user.id}+{user.login}@users.noreply.standin.invalid",
                },
            },
        )

    def _push_commit(self, repo: Repo, sha: str) -> dict[str, Any]:
        info = repo.git.commit_info(sha)
        added: list[str] = []
        removed: list[str] = []
        modified: list[str] = []
        parent = info.parents[0] if info.parents else None
        diff = (
            repo.git.text("diff-tree", "-r", "--no-commit-id", "--name-status", "--root", sha)
            if parent is None
            else repo.git.text("diff", "--name-status", "--no-renames", parent, sha)
        )
        for line in diff.splitlines():
            status, _, path = line.partition("\t")
            {"A": added, "D": removed}.get(status[:1], modified).append(path)
        return {
            "id": sha,
            "tree_id": info.tree,
            "distinct": True,
            "message": info.message.removesuffix("\n"),
            "timestamp": info.committer.date,
            "url": f"{self.html_url}/{repo.full_name}/commit/{sha}",
            "author": {"name": info.author.name, "email": info.author.email, "username": info.author.name},
            "committer": {
                "name": info.committer.name,
                "email": info.committer.email,
                "username": info.committer.name,
            },
            "added": added,
            "removed": removed,
            "modified": modified,
        }

    def notify_push(self, full_name: str, branch: str, *, pusher: str, before: str | None = None) -> None:
        """Announce that `branch` moved (after a direct `git push` into the bare repo): push + synchronize."""
        with self.lock:
            repo = self._repo(full_name)
            after = repo.git.branch_sha(branch) or "0" * 40
            previous = before if before is not None else repo.known_heads.get(branch, "0" * 40)
            if previous == after:
                return
            repo.known_heads[branch] = after
            repo.pushed_at = now_iso()
            self.ensure_user(pusher)
            self._emit_push(repo, branch, previous, after, pusher)
            self._sync_pulls(repo, branch, pusher)

    def _sync_pulls(self, head_repo: Repo, branch: str, sender: str) -> None:
        """Pull requests whose head is `head_repo:branch` follow the new head (GitHub's synchronize)."""
        sha = head_repo.git.branch_sha(branch)
        for base_repo in list(self.repos.values()):
            for pull in base_repo.pulls.values():
                issue = base_repo.issues[pull.number]
                if pull.head_repo.lower() != head_repo.full_name.lower() or pull.head_ref != branch:
                    continue
                if issue.state != "open" or sha is None or sha == pull.head_sha:
                    continue
                before = pull.head_sha
                self.move_pull_head(base_repo, pull, sha)
                issue.updated_at = now_iso()
                self._emit_pull(base_repo, pull, "synchronize", sender, before=before, after=sha)

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """Every webhook sent so far (id, event, action, payload, receiver status)."""
        return list(self._sender.deliveries)

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook was delivered (or failed); False on timeout."""
        return self._sender.wait(timeout)

    def redeliver(self, delivery_id: str, *, new_guid: bool = False) -> DeliveryRecord:
        """Send an earlier webhook again with the same payload: GitHub's "Redeliver" keeps the GUID;
        `new_guid` models an at-least-once resend the receiver cannot deduplicate by GUID."""
        previous = next((d for d in self._sender.deliveries if d.id == delivery_id), None)
        if previous is None:
            raise KeyError(f"no delivery {delivery_id}")
        return self._sender.send(
            previous.event, previous.action, previous.payload, delivery_id=None if new_guid else delivery_id
        )

    def workflow_run_json(self, repo: Repo, run: WorkflowRun) -> dict[str, Any]:
        info = repo.git.commit_info(run.head_sha) if run.head_sha else None
        head_commit: dict[str, Any] = {}
        if info is not None:
            head_commit = {
                "id": run.head_sha,
                "tree_id": info.tree,
                "message": info.message.removesuffix("\n"),
                "timestamp": info.committer.date,
                "author": {"name": info.author.name, "email": info.author.email},
                "committer": {"name": info.committer.name, "email": info.committer.email},
            }
        return shapes.workflow_run(
            self.urls,
            repo.full_name,
            run,
            repository=self.repo_json(repo),
            actor=self.user_json(run.actor),
            head_commit=head_commit,
        )

    def _emit_workflow_run(self, repo: Repo, run: WorkflowRun, action: str) -> None:
        workflow = shapes.workflow(
            self.urls, repo.full_name, run.workflow_id, run.path, run.workflow_name, repo.created_at
        )
        body = {"workflow": workflow, "workflow_run": self.workflow_run_json(repo, run)}
        self._emit("workflow_run", action, repo, run.actor, body)
