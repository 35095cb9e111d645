"""Webhooks the stand-in sends: signed like GitHub's, shaped by GitHub's payload schemas, never blocking."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from bot.standin import StandIn
from bot.standin.spec import webhook_schemas
from bot.standin.testing import ReceivedHook, WebhookReceiver

from .conftest import WEBHOOK_SECRET, World


def _new_hooks(receiver: WebhookReceiver, since: int) -> list[ReceivedHook]:
    return receiver.hooks[since:]


def _payload(hook: ReceivedHook) -> dict:
    return json.loads(hook.body)


def test_a_pull_request_lifecycle_sends_valid_signed_webhooks(
    standin: StandIn, world: World, receiver: WebhookReceiver
) -> None:
    s = standin
    start = len(receiver.hooks)
    s.commit(world.full_name, "feat", {"params.yaml": "lr: 0.2\n"}, "tune", author=world.writer)
    number = s.open_pull(world.full_name, head="feat", title="Tune", author=world.writer)
    s.commit(world.full_name, "feat", {"params.yaml": "lr: 0.3\n"}, "tune more", author=world.writer)
    comment_id = s.comment(world.full_name, number, "/train", author=world.writer)
    world.as_user(world.writer_token).get_issue(number).get_comment(comment_id).edit("/train please")
    issue = world.bot().create_issue(title="Drift", body="<!-- drift -->")
    s.comment(world.full_name, issue.number, "noted", author=world.reader)
    pull = world.as_user(world.writer_token).get_pull(number)
    pull.edit(state="closed")
    pull.edit(state="open")
    s.merge_pull(world.full_name, number, by=world.owner, method="squash")
    assert s.wait_for_deliveries(10)
    time.sleep(0.05)
    hooks = _new_hooks(receiver, start)

    names = [(h.event, _payload(h).get("action")) for h in hooks]
    assert names == [
        ("push", None),
        ("pull_request", "opened"),
        ("push", None),
        ("pull_request", "synchronize"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issues", "opened"),
        ("issue_comment", "created"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("push", None),
        ("pull_request", "closed"),
    ]
    schemas = webhook_schemas()
    for hook in hooks:
        payload = _payload(hook)
        assert schemas.errors(hook.event, payload.get("action"), payload) == [], hook.event
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hook.signature, expected)
        assert uuid.UUID(hook.delivery)
        assert hook.headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert hook.headers["Content-Type"] == "application/json"
        assert payload["installation"]["id"] == world.installation_id
        assert payload["repository"]["full_name"] == world.full_name

    by_name = {(h.event, _payload(h).get("action")): _payload(h) for h in hooks}
    on_pull = _payload(hooks[4])
    assert on_pull["issue"]["pull_request"]["url"].endswith(f"/pulls/{number}")
    assert "pull_request" not in _payload(hooks[7])["issue"]
    assert by_name[("issue_comment", "edited")]["changes"] == {"body": {"from": "/train"}}
    sync = by_name[("pull_request", "synchronize")]
    assert sync["before"] != sync["after"] == sync["pull_request"]["head"]["sha"]
    closed = [_payload(h) for h in hooks if h.event == "pull_request" and _payload(h)["action"] == "closed"]
    assert [c["pull_request"]["merged"] for c in closed] == [False, True]
    assert closed[1]["pull_request"]["merge_commit_sha"] == s.repo(world.full_name).git.branch_sha("main")
    push = _payload(hooks[0])
    assert push["ref"] == "refs/heads/feat" and push["created"] and push["pusher"]["name"] == world.writer
    assert push["head_commit"]["modified"] == ["params.yaml"]

    recorded = s.deliveries[-len(hooks) :]
    assert [d.id for d in recorded] == [h.delivery for h in hooks]
    assert {d.status for d in recorded} == {202}


def test_api_calls_do_not_wait_for_a_slow_receiver(
    standin: StandIn, world: World, receiver: WebhookReceiver
) -> None:
    receiver.delay_s = 0.5
    try:
        started = time.perf_counter()
        world.bot().create_issue(title="fast")
        elapsed = time.perf_counter() - started
        assert elapsed < 0.4
        assert standin.wait_for_deliveries(5)
        assert standin.deliveries[-1].event == "issues" and standin.deliveries[-1].status == 202
    finally:
        receiver.delay_s = 0.0


def test_unreachable_receiver_is_recorded_not_raised(tmp_path) -> None:
    with StandIn(tmp_path, webhook_url="http://127.0.0.1:9/nowhere", webhook_secret="x") as s:
        token = s.create_user("ann")
        s.create_repo("ann/r", source=None)
        s.create_issue("ann/r", title="t", body=None, author="ann")
        assert s.wait_for_deliveries(10)
        assert s.deliveries[-1].status is None and s.deliveries[-1].error
        assert token
