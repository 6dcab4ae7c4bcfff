"""Versions of the task payloads: which ones a worker accepts, how an older one is read, and the
checks every task applies to its arguments.

The public tasks (``upsert_documents``, ``recreate``: what applications send) are accepted in
every version from 1 to the current one, forever: a producer that never says ``schema`` (version
1) keeps working across every bump, because a bump only adds optional arguments. Internal
``post_batch`` messages (the dispatcher's, never an application's) are accepted in the current
version and the one before, so what an older release left in Redis still runs after a deploy.
A producer that sends a newer version than its workers know is refused: deploy workers first.

- Version 1: ``post_batch(org_id, versions, schema=1)``; ``upsert_documents`` and ``recreate``
  as documented, ``schema`` absent.
- Version 2: ``post_batch`` also carries ``lane`` ("high" or "normal") and ``dispatched_at``
  (epoch seconds), so the time a batch waited in Redis is known per lane. ``upsert_documents``
  and ``recreate`` are unchanged and may say ``schema=2``.

An argument a worker does not know (an unknown keyword, a positional argument too many) is
refused with UnsupportedPayload, naming it, the task and the arguments and schemas the worker
takes; it is never ignored. An argument can change what a call means (a ``dry_run`` ignored
would write), so a producer that adds one bumps the schema, and workers are deployed first.
A document's fields are checked per document: an unknown one rejects that document only.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accounting.domain.lanes import Lane
from accounting.errors import PermanentError
from accounting_impact_client.limits import (
    MAX_ID_LENGTH,
    MAX_REQUESTED_BY_LENGTH,
    check_recreate_size,
)
from accounting_impact_client.routing import PAYLOAD_SCHEMA
from accounting_impact_client.values import (
    INVISIBLE_MESSAGE,
    as_identifier,
    has_invisible_characters,
    identifier_problem,
)

#: Version of the task payloads; bump it when an argument changes meaning.
#: The oldest version of the public tasks' payloads a worker accepts: the first, forever.
OLDEST_PUBLIC_SCHEMA = 1
#: The oldest version of a post_batch message a worker accepts.
OLDEST_BATCH_SCHEMA = PAYLOAD_SCHEMA - 1
POST_BATCH = "accounting.post_batch"


class UnsupportedPayload(PermanentError):
    """The task's payload is of a version or layout this worker does not accept."""


#: The arguments of each public task, by name, in every accepted schema (unchanged since 1).
TASK_ARGUMENTS = {
    "accounting.upsert_documents": ("org_id", "documents", "schema"),
    "accounting.recreate": ("org_id", "document_ids", "requested_by", "schema"),
}


def refuse_unknown_arguments(
    task: str, schema: int, extra: Sequence[Any], unknown: Mapping[str, Any]
) -> None:
    """UnsupportedPayload if a call to a public task carried arguments it does not take."""
    if not extra and not unknown:
        return
    problems = [f"{len(extra)} positional arguments too many"] if extra else []
    if unknown:
        names = sorted(unknown)
        shown = ", ".join(repr(name[:64]) for name in names[:5])
        more = f" and {len(names) - 5:,} more" if len(names) > 5 else ""
        problems.append(f"unknown keyword arguments {shown}{more}")
    raise UnsupportedPayload(
        f"{task} (schema {schema}): {'; '.join(problems)}. This worker takes "
        f"{', '.join(TASK_ARGUMENTS[task])} (payload schemas {oldest_schema(task)} to "
        f"{PAYLOAD_SCHEMA}): deploy workers that take an argument before producers send it"
    )


def require_text(name: str, value: Any, max_length: int = MAX_ID_LENGTH) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise PermanentError(
            f"{name}: must be a non-empty string of at most {max_length} characters"
        )
    if has_invisible_characters(value):
        raise PermanentError(f"{name}: {INVISIBLE_MESSAGE}")
    return value


def require_id(name: str, value: Any) -> str:
    """A document id as documents carry it: in NFC (its NFD twin names the same document),
    and refused where a document's id would be."""
    text = as_identifier(require_text(name, value))
    problem = identifier_problem(text)
    if problem or len(text) > MAX_ID_LENGTH:
        raise PermanentError(f"{name}: {problem or f'at most {MAX_ID_LENGTH} characters'}")
    return text


def require_document_ids(value: Any) -> list[str]:
    """A recreate's ids: a list of at most MAX_IDS_PER_RECREATE document ids (the HTTP API's
    limit too), each read as :func:`require_id` reads it."""
    ids = require_list("document_ids", value)
    check_recreate_size(len(ids))
    return [require_id("document_ids[]", i) for i in ids]


def requested_by_text(value: Any) -> str | None:
    """Who asked for a recreate: informational, so cut short, but never unstorable."""
    if value is None:
        return None
    limit = MAX_REQUESTED_BY_LENGTH
    return require_text("requested_by", value[:limit] if isinstance(value, str) else value, limit)


def require_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise PermanentError(f"{name}: must be a list, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class PostBatchPayload:
    """A ``post_batch`` message of any accepted version, read as the current one."""

    org_id: str
    versions: dict[str, int]
    #: None for a version-1 message from a queue that is not a lane's.
    lane: Lane | None
    #: When the dispatcher published it (epoch seconds); None for a version-1 message.
    dispatched_at: float | None

    def waited_seconds(self, now: float) -> float | None:
        """How long the batch waited between its dispatch and ``now``."""
        return None if self.dispatched_at is None else max(0.0, now - self.dispatched_at)


def oldest_schema(task: str) -> int:
    """The oldest payload version of ``task`` this worker accepts."""
    return OLDEST_BATCH_SCHEMA if task == POST_BATCH else OLDEST_PUBLIC_SCHEMA


def accepted_schema(task: str, schema: Any) -> int:
    """``schema`` if this worker accepts it for ``task``; UnsupportedPayload otherwise."""
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise UnsupportedPayload(f"{task}: payload schema must be an integer, got {schema!r}")
    oldest = oldest_schema(task)
    if not oldest <= schema <= PAYLOAD_SCHEMA:
        raise UnsupportedPayload(
            f"{task}: payload schema {schema} is not supported by this worker (it accepts "
            f"{oldest} to {PAYLOAD_SCHEMA}); deploy workers before producers"
        )
    return schema


def post_batch_message(
    org_id: str, versions: dict[str, int], *, lane: Lane, dispatched_at: float
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The ``(args, kwargs)`` of a ``post_batch`` message in the current version."""
    kwargs = {"schema": PAYLOAD_SCHEMA, "lane": str(lane), "dispatched_at": dispatched_at}
    return (org_id, versions), kwargs


def upgrade_post_batch(
    args: Sequence[Any], kwargs: Mapping[str, Any], routing_key: str | None = None
) -> PostBatchPayload:
    """Read a ``post_batch`` message of any accepted version. A version-1 message says nothing
    of its lane: the queue it came from (``routing_key``) does."""
    fields = dict(kwargs)
    schema = accepted_schema(POST_BATCH, fields.pop("schema", 1))
    if schema == 1:
        if fields.keys() & {"lane", "dispatched_at"}:
            raise UnsupportedPayload(f"{POST_BATCH} (schema 1): lane is a version-2 field")
        lane = Lane.of_queue(routing_key)
        fields |= {"lane": None if lane is None else str(lane), "dispatched_at": None}
    try:
        bound = inspect.signature(_post_batch_v2).bind(*args, **fields)
    except TypeError as exc:
        raise UnsupportedPayload(f"{POST_BATCH} (schema {schema}): {exc}") from exc
    return _post_batch_v2(*bound.args, **bound.kwargs)


def _post_batch_v2(org_id: Any, versions: Any, lane: Any, dispatched_at: Any) -> PostBatchPayload:
    require_text("org_id", org_id)
    if not isinstance(versions, dict) or not all(
        isinstance(k, str) and type(v) is int and v > 0 for k, v in versions.items()
    ):
        raise UnsupportedPayload(f"{POST_BATCH}: versions must map document ids to versions")
    if lane is not None and lane not in set(Lane):
        raise UnsupportedPayload(f"{POST_BATCH}: unknown lane {lane!r}")
    if dispatched_at is not None and not (
        isinstance(dispatched_at, int | float)
        and not isinstance(dispatched_at, bool)
        and math.isfinite(dispatched_at)
    ):
        raise UnsupportedPayload(f"{POST_BATCH}: dispatched_at must be epoch seconds")
    return PostBatchPayload(
        org_id, dict(versions), None if lane is None else Lane(lane), dispatched_at
    )
