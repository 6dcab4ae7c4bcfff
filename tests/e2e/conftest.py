"""Real Celery workers as subprocesses on the real broker, against the test database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from accounting.config import get_settings
from accounting.store.uow import UnitOfWork

pytestmark = pytest.mark.e2e


@pytest.fixture
def uow(engine: Engine) -> Any:
    """A factory of units of work whose commits wake the dispatcher and tell job followers,
    as the workers' and the HTTP service's do."""
    from accounting import runtime

    return lambda: UnitOfWork(engine, runtime.effects())


@pytest.fixture
def celery_app(engine: Engine, redis_client: redis.Redis) -> Any:
    from tasks.app import app

    return app


@pytest.fixture
def workers(celery_app: Any, tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Any]:
    from tasks.tools.worker_pool import worker_pool

    # The workers connect as the application's role where CI gives one (least privilege).
    app_url = os.environ.get("ACCOUNTING_TEST_APP_DATABASE_URL", database_url)
    env = {"ACCOUNTING_DATABASE_URL": app_url, "ACCOUNTING_REDIS_URL": redis_url}
    with worker_pool(celery_app, env, tmp_path / "logs") as pool:
        yield pool


@pytest.fixture
def settings() -> Any:
    return get_settings()
