"""A kept model card opens as a page for the repository's readers: its Markdown rendered, in a sandbox that
runs no script (a card quotes text from the pull request); a job log opens as plain text."""

from __future__ import annotations

from bot.adapters.store import StoredReport
from bot.core.reports import CONTENT_TYPES, card_report_id, job_log_id
from tests.web.conftest import MODEL, REPO, World

CARD = """<!-- mlops-bot:card:churn -->
## Model card: `churn`

| metric | candidate | champion |
|---|---|---|
| accuracy | 0.91 | 0.89 |

<script>document.title = "ran"</script>
"""


def test_a_kept_card_opens_as_a_page_without_scripts_for_readers_only(world: World) -> None:
    rid = card_report_id(REPO, MODEL, 5, "c" * 40)
    world.store.save_report(
        StoredReport(rid, REPO, MODEL, "model-card", "card-churn.md", CONTENT_TYPES["model-card"],
                     CARD.encode(), "", 0.0)
    )  # fmt: skip
    page = world.sign_in("bob").get(f"/reports/{rid}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<table>" in page.text and "<td>0.91</td>" in page.text  # rendered, not Markdown source
    policy = page.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "allow-scripts" not in policy and "script-src" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert world.sign_in("eve").get(f"/reports/{rid}").status_code == 404


def test_a_kept_job_log_opens_as_text(world: World) -> None:
    rid = job_log_id(REPO, "rollback", "job:rollback:1")
    world.store.save_report(
        StoredReport(rid, REPO, "", "job-log", "rollback-1.log", CONTENT_TYPES["job-log"],
                     b"churn: rolled-back v4 -> v3", "", 0.0)
    )  # fmt: skip
    log = world.sign_in("bob").get(f"/reports/{rid}")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
    assert log.text == "churn: rolled-back v4 -> v3"
