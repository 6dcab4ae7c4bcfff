"""What every accounting task shares: how a message that cannot be applied now is retried, and
what becomes of one that cannot be applied at all. Nothing accepted is acknowledged into
nothing: a message is applied, retried, or kept whole (dead intake).

- Postgres unavailable (down, failing over, a pooler restarting, a schema not migrated yet):
  retried with capped exponential backoff for ``ACCOUNTING_INTAKE_RETRY_SECONDS`` (hours).
- A lost race (deadlock, serialization failure): retried soon, ``ACCOUNTING_CONFLICT_RETRIES``
  times.
- Either exhausted, or a message that killed its worker process on
  ``ACCOUNTING_MAX_WORKER_LOSSES`` deliveries (a poison message): :meth:`AccountingTask.give_up`
  keeps it (the public tasks) or postpones its documents (a batch, see tasks.posting).
- A permanent error (bad input, an unknown organization) fails at once: it is the sender's to
  fix, and the result says why. A public task's job that was never recorded gets a terminal
  ``refused`` event saying so (see accounting.services.jobs.refuse), so its followers do not
  wait for it.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from celery import Task

from accounting import runtime
from accounting.config import get_settings
from accounting.errors import PERMANENT_ERRORS, DatabaseConflict, PermanentError, TransientError
from accounting.services import jobs
from accounting.services.intake import keep_dead_message
from tasks import telemetry

log = logging.getLogger(__name__)

#: The tasks whose id is a job id an application follows.
JOB_TASKS = frozenset({"accounting.upsert_documents", "accounting.recreate"})


class GivenUp(PermanentError):
    """The message could not be applied and was given up on (kept whole as dead intake, or
    its documents postponed): the task's result says why."""


class AccountingTask(Task):  # type: ignore[misc]
    #: Refuse oversize messages before decoding them (see tasks.strategy).
    Strategy = "tasks.strategy:guarded"
    acks_late = True
    reject_on_worker_lost = True
    max_retries = None  # the policy above decides

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        if task_id is None:  # called as a function, not delivered
            return super().__call__(*args, **kwargs)
        deliveries = runtime.deliveries()
        losses = deliveries.started(task_id)
        if losses >= get_settings().max_worker_losses:
            reason = f"killed its worker process on {losses} deliveries"
            self.give_up(args, kwargs, reason, deliveries=losses + 1)
            raise GivenUp(reason)
        try:
            return super().__call__(*args, **kwargs)
        except TransientError as exc:
            reason = self._retry_or_give_up(exc, args, kwargs)
            raise GivenUp(reason) from exc
        except PERMANENT_ERRORS as exc:
            self.refuse(exc, args, kwargs)
            raise
        finally:
            deliveries.finished(task_id)

    def _retry_or_give_up(self, exc: TransientError, args: Any, kwargs: Any) -> str:
        """Raises Retry, or gives up and says why."""
        settings, retries = get_settings(), self.request.retries
        if isinstance(exc, DatabaseConflict):
            if retries < settings.conflict_retries:
                raise self.retry(
                    exc=exc, countdown=_backoff(retries, min(5.0, settings.retry_cap_seconds))
                )
            reason = f"gave up after {retries} retries: {exc}"
        else:
            waited = time.time() - runtime.deliveries().first_failure(self.request.id)
            if waited < settings.intake_retry_seconds:
                raise self.retry(exc=exc, countdown=_backoff(retries, settings.retry_cap_seconds))
            reason = f"gave up after {waited:,.0f} s of retries: {exc}"
        try:
            self.give_up(args, kwargs, reason)
        except TransientError:  # cannot even keep it now: try again later, never drop it
            raise self.retry(exc=exc, countdown=settings.retry_cap_seconds) from None
        return reason

    def give_up(self, args: Any, kwargs: Any, reason: str, deliveries: int | None = None) -> None:
        """Keep the message whole: ``accounting dead list --intake`` shows it, ``accounting
        dead retry --intake`` sends it again. ``deliveries``: how often it was delivered (by
        default its retries and this delivery; a message that killed its process was
        delivered once more each time, without a retry)."""
        log.error("task %s[%s] kept as dead intake: %s", self.name, self.request.id, reason)
        keep_dead_message(
            runtime.unit_of_work(),
            task_id=self.request.id,
            task_name=self.name,
            args=list(args),
            kwargs=dict(kwargs),
            reason=reason,
            deliveries=deliveries or self.request.retries + 1,
        )

    def refuse(self, exc: Exception, args: Any, kwargs: Any) -> None:
        """Not for a message given up on and kept as dead intake: retried later, it may still
        become its job."""
        org_id = args[0] if args else kwargs.get("org_id")
        refuse_job(self.name, self.request.id, org_id, exc)

    def on_retry(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        telemetry.record_retry(self.name)


def refuse_job(task_name: str, task_id: str, org_id: object, exc: Exception) -> None:
    """A public task's request refused for good: its job's followers are told, best effort
    (the task fails with ``exc`` either way)."""
    if task_name not in JOB_TASKS:
        return
    try:
        jobs.refuse(
            runtime.unit_of_work(), runtime.progress_stream(), task_id, org_id=org_id, error=exc
        )
    except Exception as error:
        log.warning("refusal of job %s not published: %s", task_id, error)


def _backoff(retries: int, cap: float) -> float:
    """Exponential with jitter, so the retries of tasks that failed together spread out."""
    return random.uniform(0.5, 1.0) * min(cap, 2.0**retries)
