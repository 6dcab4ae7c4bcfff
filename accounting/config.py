"""Settings: every knob, read once from ``ACCOUNTING_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Unset URLs mean "start embedded services" (demo and tests)."""

    model_config = SettingsConfigDict(env_prefix="ACCOUNTING_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@pgbouncer:6432/accounting",
    )
    redis_url: str | None = Field(default=None, description="Broker, result backend and cache")
    data_dir: Path = Field(
        default=Path(".accounting-data"),
        description="Where embedded Postgres and Redis keep their files",
    )
    db_pool_size: int = Field(default=2, ge=1, description="Connections per process")
    db_max_overflow: int = Field(default=2, ge=0)
    fast_path_max_documents: int = Field(
        default=10, ge=0, description="Recreates this small are posted inline by the high pool"
    )
    fast_path_hold_seconds: float = Field(
        default=30.0,
        gt=0,
        description="The dispatcher leaves a fast-path recreate alone this long before taking it",
    )
    batch_size: int = Field(default=200, ge=1, description="At most this many documents per batch")
    # 1,200 (about 200 documents of the usual mix) measured 2,925 documents/s where 400 gave
    # 1,599 (bench throughput, 60,000 documents), and fairness at N = 100,000 improved too.
    batch_cost: int = Field(
        default=1200, ge=1, description="At most this estimated cost (invoice lines) per batch"
    )
    window_batches: int = Field(
        default=6, ge=1, description="Batches' worth of cost kept in flight (bounds Redis memory)"
    )
    window_follows_capacity: bool = Field(
        default=True,
        description="Size the normal lane's window on the consumer slots workers announce "
        "(window_batches_per_slot each), window_batches being its floor; false: a fixed window",
    )
    window_batches_per_slot: float = Field(
        default=2.0,
        gt=0,
        description="Normal-lane batches in flight per announced worker slot: one running, one "
        "waiting in Redis so a slot never idles between batches",
    )
    max_window_batches: int = Field(
        default=512,
        ge=1,
        description="The most normal-lane batches in flight, whatever the slots (bounds Redis)",
    )
    high_batch_cost: int = Field(
        default=200,
        ge=1,
        description="At most this estimated cost per high-lane batch (small: a user's fast-path "
        "recreate waits behind at most a window of them)",
    )
    high_window_batches: int = Field(
        default=1,
        ge=1,
        description="High-lane batches' worth of cost kept in flight: with one, a high pool of "
        "two processes or more always has one free for a user's small recreate",
    )
    scheduling: Literal["fair", "fifo"] = Field(
        default="fair",
        description="fair: weighted deficit round robin across organizations; fifo: oldest first",
    )
    lease_seconds: int = Field(
        default=120, ge=5, description="A claimed batch not posted by then is redispatched"
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Failed postings of one version before it is dead"
    )
    intake_retry_seconds: float = Field(
        default=6 * 3600,
        gt=0,
        description="How long a task keeps retrying while Postgres is unavailable before its "
        "payload is kept as a dead intake record (accounting dead list --intake)",
    )
    retry_cap_seconds: float = Field(
        default=60.0, gt=0, description="Longest wait between two retries of a task"
    )
    conflict_retries: int = Field(
        default=5, ge=0, description="Retries of a task that lost a race (deadlock, conflict)"
    )
    max_worker_losses: int = Field(
        default=3,
        ge=1,
        description="Deliveries of one message that may kill their worker process before the "
        "message is quarantined (a poison message)",
    )
    max_message_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="A task message larger than this is refused before it is decoded",
    )
    worker_max_memory_mb: int = Field(
        default=1024,
        ge=64,
        description="A pool process that grew past this is replaced after its task",
    )
    database_probe_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often a worker checks Postgres; it stops taking messages while it is "
        "unreachable and takes them again once it answers",
    )
    dispatch_poll_seconds: float = Field(
        default=1.0, gt=0, description="Fallback poll when no wake-up arrives"
    )
    max_documents_per_call: int = Field(default=5000, ge=1)
    run_dispatcher: bool = Field(
        default=True,
        description="Normal-lane workers run a dispatcher (one leads, others stand by)",
    )
    audit_sample: int = Field(
        default=1000, ge=1, description="Findings of each audit check kept (all are counted)"
    )
    audit_retention_days: int = Field(
        default=90, ge=1, description="Audit runs older than this are deleted by the cleanup"
    )
    progress_retention_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="A job's progress stream is deleted this long after its last event, and "
        "the job this long after it was made",
    )
    scaling_documents_per_worker: float = Field(
        default=1000.0,
        gt=0,
        description="Documents/s one worker process posts, for the suggested worker count",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per log line, with task, org, job"
    )
    sentry_dsn: SecretStr | None = Field(
        default=None, description="Report errors to Sentry (needs the sentry extra)"
    )
    api_auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long the API trusts a token it checked (revocation lag)"
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="An HTTP body over this is refused with 413 before it is read (the "
        "documents intake takes MAX_MESSAGE_BYTES)",
    )
    recreate_requests_per_second: float = Field(
        default=5.0,
        gt=0,
        description="POST /v1/orgs/{org}/recreate calls one token may make per second (burst: "
        "the same number); over it, 429 with Retry-After",
    )
    sse_streams_per_token: int = Field(
        default=50, ge=1, description="Event streams one token may hold open per server process"
    )
    matrix_cache: bool = Field(
        default=True,
        description="Cache posting matrices (off only for the naive baseline of the benches)",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
