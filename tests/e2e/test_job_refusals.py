"""Requests a real worker refuses before they are jobs (an unknown organization, a schema it
does not take, a message over the size limit) end their job's stream with ``refused``."""

from __future__ import annotations

from typing import Any

import pytest

from accounting import runtime
from accounting.volatile.progress import Event, ProgressStream

from helpers import invoice

pytestmark = pytest.mark.timeout(120)


def events(job_id: str) -> list[Event]:
    return ProgressStream(runtime.redis_client(), 60).read(job_id)


def test_requests_refused_by_a_worker_end_their_stream_with_refused(
    workers: Any, uow: Any, org: str
) -> None:
    from tasks.documents import recreate, upsert_documents

    workers.start("accounting.normal", concurrency=1)
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()
    unknown = upsert_documents.delay("nobody", [invoice("inv-1")])
    schema = recreate.delay(org, ["inv-1"], schema=99)
    oversize = upsert_documents.delay(org, [{**invoice("big"), "currency": "x" * 5_000_000}])
    expected = {
        unknown.id: ("nobody", "UnknownOrganization"),
        schema.id: (org, "UnsupportedPayload"),
        oversize.id: (org, "MessageTooLarge"),
    }
    for result in (unknown, schema, oversize):
        with pytest.raises(Exception):  # noqa: B017 - each fails in its own way
            result.get(timeout=30)
        (refused,) = events(result.id)  # published before the task's result
        assert refused.type == "refused"
        assert (refused.data["org_id"], refused.data["error"]) == expected[result.id]
    assert "unknown organization 'nobody'" in events(unknown.id)[0].data["message"]
