"""Embedded Postgres and Redis: reachable while in use, gone afterwards."""

from __future__ import annotations

from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from accounting.config import Settings
from accounting.embedded import DataDirInUse, services

pytestmark = pytest.mark.timeout(60)


def _unconfigured(data_dir: Path, **urls: str | None) -> Settings:
    # Explicit None beats ACCOUNTING_* variables that CI exports for the other tests.
    return Settings(**{"database_url": None, "redis_url": None, **urls}, data_dir=data_dir)


def _gone(pid: int) -> bool:
    # An exited daemon stays a zombie until init reaps it, which can take a while in containers.
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _processes_using(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def test_embedded_services_answer_and_leave_nothing_running(tmp_path: Path) -> None:
    with services(_unconfigured(tmp_path)) as urls:
        assert urls.database_url.startswith("postgresql+psycopg://")
        libpq_url = urls.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(libpq_url) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        with redis.Redis.from_url(urls.redis_url) as client:
            assert client.ping()
            redis_pid = int(client.info("server")["process_id"])
        postgres_pid = int((tmp_path / "postgres" / "postmaster.pid").read_text().split()[0])

    assert _gone(postgres_pid)
    assert _gone(redis_pid)
    assert _processes_using(tmp_path) == []


def test_configured_database_embeds_only_redis(tmp_path: Path) -> None:
    configured = "postgresql+psycopg://someone@db.invalid/accounting"
    with services(_unconfigured(tmp_path, database_url=configured)) as urls:
        assert urls.database_url == configured
        with redis.Redis.from_url(urls.redis_url) as client:
            assert client.ping()
    assert not (tmp_path / "postgres").exists()


def test_configured_urls_start_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "unused"
    settings = _unconfigured(
        data_dir, database_url="postgresql+psycopg://x@h/d", redis_url="redis://h"
    )
    with services(settings) as urls:
        assert (urls.database_url, urls.redis_url) == ("postgresql+psycopg://x@h/d", "redis://h")
    assert not data_dir.exists()


def test_a_data_dir_serves_one_process_at_a_time(tmp_path: Path) -> None:
    settings = _unconfigured(tmp_path, database_url="postgresql+psycopg://x@h/d")
    with services(settings), pytest.raises(DataDirInUse), services(settings):
        pass


def test_a_folder_in_use_is_refused_in_one_line_naming_the_way_out(tmp_path: Path) -> None:
    """The command line prints an AccountingError as one line (no traceback) and exits 2."""
    from accounting.errors import AccountingError

    settings = _unconfigured(tmp_path, database_url="postgresql+psycopg://x@h/d")
    with services(settings), pytest.raises(AccountingError) as refused, services(settings):
        pass
    assert "ACCOUNTING_DATA_DIR" in str(refused.value) and "accounting up" in str(refused.value)
