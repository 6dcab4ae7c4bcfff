"""What a committed change sets in motion outside Postgres.

A use case records these on its unit of work; once the transaction commits, the composition
root acts on them (wakes the dispatcher, tells a job's followers where it stands). A rolled
back transaction sets nothing in motion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from accounting_impact_client.documents import Rejection


@dataclass(frozen=True)
class WorkArrived:
    """Documents became due, or a batch finished and the window has room: dispatch now."""


@dataclass(frozen=True)
class JobAccepted:
    """A request was recorded as a job waiting for ``total`` document versions; ``rejected``
    are the documents of the request that were not stored (each with its field and why)."""

    job_id: str
    org_id: str
    kind: str
    total: int
    rejected: tuple[Rejection, ...] = ()


@dataclass(frozen=True)
class JobQueued:
    """The job waits for the dispatcher: its followers want its place and an estimate."""

    job_id: str


@dataclass(frozen=True)
class JobsMoved:
    """A posting settled documents these jobs wait for; ``failures`` by job: document -> why."""

    failures: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class JobCancelled:
    """A cancel took ``taken_back`` documents of the job back."""

    job_id: str
    taken_back: int


Event = WorkArrived | JobAccepted | JobQueued | JobsMoved | JobCancelled
