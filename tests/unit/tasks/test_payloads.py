"""Task payload versions: the previous version is read as the current one, others refused."""

from __future__ import annotations

from typing import Any

import pytest

from accounting.domain.lanes import Lane
from accounting.errors import PermanentError
from tasks.payloads import (
    PAYLOAD_SCHEMA,
    PostBatchPayload,
    UnsupportedPayload,
    accepted_schema,
    post_batch_message,
    upgrade_post_batch,
)

VERSIONS = {"inv-1": 3, "inv-2": 1}


def test_the_current_version_is_two_and_the_previous_one_is_still_accepted() -> None:
    assert PAYLOAD_SCHEMA == 2
    assert accepted_schema("accounting.recreate", 1) == 1
    assert accepted_schema("accounting.recreate", 2) == 2


def test_a_message_in_the_current_version_reads_back_as_it_was_sent() -> None:
    args, kwargs = post_batch_message("acme", VERSIONS, lane=Lane.HIGH, dispatched_at=1000.5)
    assert kwargs == {"schema": 2, "lane": "high", "dispatched_at": 1000.5}
    payload = upgrade_post_batch(args, kwargs, "accounting.normal")
    assert payload == PostBatchPayload("acme", VERSIONS, "high", 1000.5)
    assert payload.waited_seconds(1002.0) == 1.5


@pytest.mark.parametrize(
    ("kwargs", "routing_key", "lane"),
    [
        ({"schema": 1}, "accounting.high", "high"),
        ({"schema": 1}, "accounting.normal", "normal"),
        ({}, "accounting.normal", "normal"),  # the first releases sent no schema at all
        ({"schema": 1}, None, None),
    ],
)
def test_a_version_one_batch_takes_its_lane_from_the_queue_it_came_from(
    kwargs: dict[str, Any], routing_key: str | None, lane: str | None
) -> None:
    payload = upgrade_post_batch(("acme", VERSIONS), kwargs, routing_key)
    assert payload == PostBatchPayload("acme", VERSIONS, lane, None)
    assert payload.waited_seconds(5.0) is None


def test_a_version_one_batch_with_keyword_arguments_is_read_too() -> None:
    payload = upgrade_post_batch((), {"org_id": "acme", "versions": VERSIONS, "schema": 1})
    assert (payload.org_id, payload.versions) == ("acme", VERSIONS)


@pytest.mark.parametrize("schema", [3, 0, -1, "2", 2.0, True, None])
def test_an_unknown_version_is_refused_permanently_naming_task_and_version(schema: Any) -> None:
    with pytest.raises(UnsupportedPayload) as refused:
        upgrade_post_batch(("acme", VERSIONS), {"schema": schema, "lane": "normal"})
    assert isinstance(refused.value, PermanentError)  # not retried
    assert "accounting.post_batch" in str(refused.value)
    assert repr(schema) in str(refused.value) or str(schema) in str(refused.value)


def test_a_future_version_is_refused_before_its_unknown_fields_are_looked_at() -> None:
    kwargs = {"schema": 3, "lane": "normal", "dispatched_at": 1.0, "deadline": 9.0}
    with pytest.raises(UnsupportedPayload, match="schema 3 is not supported by this worker"):
        upgrade_post_batch(("acme", VERSIONS), kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("acme", VERSIONS), {"schema": 2}),  # version 2 without its lane
        (("acme", VERSIONS), {"schema": 2, "lane": "fast", "dispatched_at": 1.0}),
        (("acme", VERSIONS), {"schema": 2, "lane": "high", "dispatched_at": float("nan")}),
        (("acme", VERSIONS), {"schema": 1, "lane": "high"}),  # version 1 had no lane
        (("acme", {"inv-1": "3"}), {"schema": 1}),
        (("acme", [["inv-1", 3]]), {"schema": 1}),
        (("acme",), {"schema": 1}),
        (("", VERSIONS), {"schema": 1}),
    ],
)
def test_a_malformed_batch_is_refused_permanently(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(PermanentError):
        upgrade_post_batch(args, kwargs, "accounting.normal")


@pytest.mark.parametrize("task", ["accounting.upsert_documents", "accounting.recreate"])
def test_application_tasks_refuse_a_version_from_the_future(task: str) -> None:
    with pytest.raises(UnsupportedPayload, match=f"{task}: payload schema 3"):
        accepted_schema(task, 3)


def test_an_omitted_schema_keeps_working_across_bumps_while_batches_keep_two_versions() -> None:
    from tasks.payloads import POST_BATCH, oldest_schema

    assert oldest_schema("accounting.upsert_documents") == 1
    assert oldest_schema("accounting.recreate") == 1
    assert oldest_schema(POST_BATCH) == PAYLOAD_SCHEMA - 1
