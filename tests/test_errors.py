"""Errors keep their meaning when they cross a process boundary (the parsing pool pickles them)."""

from __future__ import annotations

import pickle

from tpr_ws.errors import NotFound, UploadRejected


def test_upload_rejected_survives_pickling_with_every_problem() -> None:
    err = UploadRejected(["first problem", "second problem"], code="unusable_workbook")
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == ["first problem", "second problem"]
    assert back.code == "unusable_workbook"
    assert str(back) == "first problem; second problem"


def test_client_error_keeps_its_code() -> None:
    back = pickle.loads(pickle.dumps(NotFound("gone", code="unknown_session")))
    assert back.code == "unknown_session" and back.message == "gone" and back.http_status == 404
