"""Which GitHub answers end a delivery as ignored (issue 11 defect 4), and which are worth a retry."""

from __future__ import annotations

import pytest

from bot.core.events import permanent_answer


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (410, True), (422, True), (403, False),
                                                    (429, False), (500, False), (502, False), (None, False)])  # fmt: skip
def test_permanent_answers(status: int | None, permanent: bool) -> None:
    note = permanent_answer(status, "Not Found")
    assert (note is not None) is permanent
    if note is not None:
        assert note.startswith("ignored") and str(status) in note and "Not Found" in note
