"""``AccountingClient``: how an application sends documents and recreates to the workers.

It sends by task name, either through the application's own Celery app (``celery_app=``) or
through a private one on a broker URL (``broker_url=``); it never becomes, nor changes, the
application's current Celery app, and it registers no task. A sync is *accepted* only once
the workers report it stored in Postgres: until then the client sends it again, under the same
task id (a repeat is idempotent: the same content changes nothing, and an older ``revision``
never overwrites a newer one), so a message lost with Redis is sent again rather than lost."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import redis
from celery import Celery
from kombu.entity import Exchange, Queue
from kombu.exceptions import OperationalError
from pydantic import BaseModel

from accounting_impact_client import routing
from accounting_impact_client.errors import CallFailed, ContractError, NotAccepted
from accounting_impact_client.events import Event, follow
from accounting_impact_client.limits import check_recreate_call, check_upsert_call
from accounting_impact_client.results import Job, RecreateResult, SyncResult

#: Where Celery's Redis result backend keeps a task's state.
RESULT_KEY = "celery-task-meta-{}"
#: How long the client waits for a stored confirmation before it sends the call again; doubled
#: after every send, up to RESEND_MAX_SECONDS.
RESEND_AFTER_SECONDS = 10.0
RESEND_MAX_SECONDS = 60.0
POLL_SECONDS = 0.1
BROKER_RETRY_SECONDS = 0.5


class AccountingClient:
    """One per process (it holds a Redis connection pool). ``broker_url`` or ``celery_app``
    sends; ``result_url`` (the workers' result backend, by default the broker URL) confirms;
    ``api_url`` and ``api_token`` follow a job's events over SSE."""

    def __init__(
        self,
        broker_url: str | None = None,
        *,
        celery_app: Celery | None = None,
        result_url: str | None = None,
        api_url: str | None = None,
        api_token: str | None = None,
        small_recreate: int = routing.SMALL_RECREATE,
    ) -> None:
        if (broker_url is None) == (celery_app is None):
            raise ValueError("give the client a broker_url or a celery_app (one of them)")
        if celery_app is None:
            # Private: set_as_current=False keeps the application's current app its own.
            celery_app = Celery("accounting_impact_client", broker=broker_url, set_as_current=False)
        self._app = celery_app
        result_url = result_url or broker_url
        if result_url is None:
            raise ValueError("give result_url: where the workers' result backend lives")
        self._results = redis.Redis.from_url(result_url)
        self._api_url = api_url
        self._api_token = api_token
        self._small_recreate = small_recreate

    @classmethod
    def from_env(cls, *, celery_app: Celery | None = None) -> AccountingClient:
        """From ACCOUNTING_REDIS_URL (the broker and results), ACCOUNTING_API_URL and
        ACCOUNTING_API_TOKEN."""
        url = os.environ.get("ACCOUNTING_REDIS_URL")
        if not url:
            raise ValueError("ACCOUNTING_REDIS_URL is not set (redis://host:6379/0)")
        return cls(
            None if celery_app else url,
            celery_app=celery_app,
            result_url=url,
            api_url=os.environ.get("ACCOUNTING_API_URL"),
            api_token=os.environ.get("ACCOUNTING_API_TOKEN"),
        )

    @staticmethod
    def new_job_id() -> str:
        """A job id to choose before sending, e.g. to store it with the application's row
        inside its transaction and send in ``transaction.on_commit``."""
        return str(uuid.uuid4())

    # --- calls ------------------------------------------------------------------------------

    def sync_documents(
        self,
        org_id: str,
        documents: Sequence[BaseModel | Mapping[str, Any]],
        *,
        job_id: str | None = None,
        timeout: float = 600.0,
    ) -> SyncResult:
        """Create or update documents, and return once the workers have stored them (each one
        changed, unchanged, stale or rejected with its field and why). Sends again under the
        same job id while no confirmation comes; NotAccepted after ``timeout`` seconds
        (sending the same call again, same job id, is safe); CallFailed if the workers refuse
        the call whole; ContractError, before anything is sent, for a call over a limit."""
        body = [_plain(document) for document in documents]
        kwargs = {"schema": routing.PAYLOAD_SCHEMA}
        check_upsert_call(org_id, body, kwargs)
        job = Job(job_id or self.new_job_id(), org_id, routing.UPSERT_DOCUMENTS)
        message = {"args": [org_id, body], "kwargs": kwargs, "queue": routing.NORMAL_QUEUE}
        result = self._deliver(job, message, timeout, resend=True)
        return SyncResult.of(result[0], result[1])

    def recreate(
        self,
        org_id: str,
        document_ids: Sequence[str],
        *,
        requested_by: str | None = None,
        job_id: str | None = None,
        timeout: float = 60.0,
    ) -> RecreateResult:
        """Recreate documents' entries at high priority. A small recreate comes back posted;
        a large one queued (follow :meth:`events` to ``done``). Sent once: a recreate sent
        twice would post twice (harmless to the books, but work)."""
        ids = list(document_ids)
        kwargs = {"requested_by": requested_by, "schema": routing.PAYLOAD_SCHEMA}
        check_recreate_call(org_id, ids, kwargs)
        job = Job(job_id or self.new_job_id(), org_id, routing.RECREATE)
        queue = routing.recreate_queue(len(ids), self._small_recreate)
        message = {"args": [org_id, ids], "kwargs": kwargs, "queue": queue}
        result = self._deliver(job, message, timeout, resend=False)
        return RecreateResult.of(result[0], result[1])

    def events(self, job_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        """The job's events over SSE, resuming after ``last_event_id``; reconnects and
        replays what it missed; ends after ``done`` or ``refused``."""
        if not self._api_url or not self._api_token:
            raise ValueError("following events needs api_url and api_token")
        return follow(self._api_url, self._api_token, job_id, last_event_id=last_event_id)

    # --- delivery ---------------------------------------------------------------------------

    def _deliver(
        self, job: Job, message: dict[str, Any], timeout: float, *, resend: bool
    ) -> tuple[Job, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        wait, sends = RESEND_AFTER_SECONDS, 0
        while True:
            if not self._sent(job, message, deadline):
                raise NotAccepted(f"job {job.id}: the broker was unreachable for {timeout:.0f} s")
            sends += 1
            resend_at = time.monotonic() + wait if resend else deadline
            outcome = self._outcome(job.id, resend_at, deadline)
            if outcome is not None:
                return Job(job.id, job.org_id, job.task, sends), outcome
            if time.monotonic() >= deadline:
                raise NotAccepted(
                    f"job {job.id}: no stored confirmation within {timeout:.0f} s "
                    f"({sends} sends); sending it again with this job id is safe"
                )
            wait = min(wait * 2, RESEND_MAX_SECONDS)

    def _sent(self, job: Job, message: dict[str, Any], deadline: float) -> bool:
        """Send, again while the broker is unreachable (restarting, failing over), until
        ``deadline``; whether it was sent."""
        while True:
            try:
                self._send(job, message)
                return True
            except (OperationalError, redis.RedisError, OSError):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(BROKER_RETRY_SECONDS)

    def _send(self, job: Job, message: dict[str, Any]) -> None:
        self._app.send_task(
            job.task,
            args=message["args"],
            kwargs=message["kwargs"],
            task_id=job.id,
            queue=_queue(message["queue"]),
            priority=routing.URGENT,
            serializer="json",
        )

    def _outcome(self, job_id: str, resend_at: float, deadline: float) -> dict[str, Any] | None:
        """The task's result once it is stored; None at ``deadline``, or at ``resend_at`` if
        there is no sign of the task. A task a worker holds (retrying while the database is
        down, say) is not sent again while it lives."""
        key = RESULT_KEY.format(job_id)
        while True:
            try:
                raw = self._results.get(key)
            except redis.RedisError:  # restarting: what it held may be gone, send again
                raw = None
            meta = json.loads(raw) if raw is not None else {}
            status = meta.get("status")
            if status == "SUCCESS":
                return dict(meta["result"])
            if status == "FAILURE":
                error = meta.get("result") or {}
                raise CallFailed(job_id, str(error.get("exc_type")), _message(error))
            now = time.monotonic()
            if now >= deadline or (status is None and now >= resend_at):
                return None
            time.sleep(POLL_SECONDS)


def _queue(name: str) -> Queue:
    """A lane's queue declared as the workers declare it (its own direct exchange)."""
    exchange = Exchange(name, type="direct")  # type: ignore[no-untyped-call]
    return Queue(name, exchange, routing_key=name)  # type: ignore[no-untyped-call]


def _message(error: Mapping[str, Any]) -> str:
    message = error.get("exc_message")
    if isinstance(message, list | tuple):
        return " ".join(str(part) for part in message)
    return str(message)


def _plain(document: BaseModel | Mapping[str, Any]) -> Any:
    if isinstance(document, BaseModel):
        return document.model_dump(mode="json", exclude_none=True)
    if isinstance(document, Mapping):
        return dict(document)
    raise ContractError(f"a document is a mapping or a model, got {type(document).__name__}")
