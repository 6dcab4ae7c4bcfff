"""Use cases of the scheduled jobs: reclaim expired leases, and clean up what expires."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from accounting.config import Settings
from accounting.domain.events import JobsMoved, WorkArrived
from accounting.services.jobs import settled_jobs
from accounting.store.uow import UnitOfWork
from accounting.volatile import keys

_SCAN_BATCH = 500


@dataclass(frozen=True)
class Reclaimed:
    #: Versions claimed too often without being posted: now dead, with their reason.
    buried: int
    #: Leases that ran out: the documents wait to be handed out again.
    released: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CleanedUp:
    progress_streams: int
    jobs: int
    audit_runs: int
    result_keys_given_a_ttl: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reclaim_leases(uow: UnitOfWork, settings: Settings) -> Reclaimed:
    """What a leading dispatcher does every round, for when none runs: bury the versions that
    used up their attempts, and release the leases that ran out."""
    with uow:
        buried = uow.leases.bury_exhausted(settings.max_attempts)
        released = uow.leases.release_expired_leases()
        if buried:
            uow.record(JobsMoved(settled_jobs(uow, buried)))
        if released:
            uow.record(WorkArrived())
        uow.commit()
    return Reclaimed(len(buried), released)


def clean_up(
    uow: UnitOfWork,
    client: redis.Redis,
    settings: Settings,
    *,
    result_key_pattern: str,
    result_ttl_seconds: int,
) -> CleanedUp:
    """Delete progress streams idle past their retention, jobs as old, and audit runs past
    their retention; give task
    result keys left without an expiry (``result_key_pattern``) one. Documents, dead ones
    included, are never deleted: a dead document waits for `accounting dead retry`."""
    with uow:
        audit_runs = uow.audits.delete_runs_before(settings.audit_retention_days)
        jobs = uow.jobs.delete_before(settings.progress_retention_seconds)
        uow.commit()
    return CleanedUp(
        progress_streams=_delete_idle_streams(client, settings.progress_retention_seconds),
        jobs=jobs,
        audit_runs=audit_runs,
        result_keys_given_a_ttl=_expire_forever_keys(
            client, result_key_pattern, result_ttl_seconds
        ),
    )


def _delete_idle_streams(client: redis.Redis, retention_seconds: int) -> int:
    """A stream's entry ids start with their time in milliseconds: the last one says when it
    was last written to."""
    cutoff_ms = (time.time() - retention_seconds) * 1000
    deleted = 0
    for key in client.scan_iter(match=f"{keys.PROGRESS}*", count=_SCAN_BATCH, _type="stream"):
        last_id = client.xinfo_stream(key)["last-generated-id"]
        last_ms = int(keys.text(last_id).split("-")[0])
        if last_ms < cutoff_ms:
            deleted += client.delete(key)
    return deleted


def _expire_forever_keys(client: redis.Redis, pattern: str, ttl_seconds: int) -> int:
    expired = 0
    for key in client.scan_iter(match=pattern, count=_SCAN_BATCH):
        if client.ttl(key) == -1:  # exists and never expires
            expired += bool(client.expire(key, ttl_seconds))
    return expired
