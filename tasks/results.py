"""Celery's Redis result backend, keeping what operators read of a finished task (its name,
worker, retries and queue) but never its arguments: those are every document of a sync, and
Redis would hold a day of every tenant's books."""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend


class ResultBackend(RedisBackend):  # type: ignore[misc]
    def _get_result_meta(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_result_meta(*args, **kwargs)
        meta.pop("args", None)
        meta.pop("kwargs", None)
        return meta
