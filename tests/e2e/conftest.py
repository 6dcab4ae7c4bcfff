"""Real Celery workers as subprocesses on the real broker, against the test database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from accounting.config import get_settings
from accounting.store.uow import UnitOfWork

from helpers import Server

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


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def server(engine: Any, redis_client: Any, tmp_path: Path) -> Iterator[Server]:
    served = Server(tmp_path)
    served.start()
    yield served
    served.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
